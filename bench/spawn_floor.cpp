// The floor for console exec: posix_spawn("/bin/sh -c true") + waitpid in a loop, no server at all.
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

extern char** environ;

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 2000;
    const char* args[] = {"/bin/sh", "-c", "true", nullptr};
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
        pid_t pid;
        if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(args), environ) != 0)
            return 1;
        int status;
        waitpid(pid, &status, 0);
    }
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
    std::printf("%.1f\n", us);
}
