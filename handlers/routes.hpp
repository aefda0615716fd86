#pragma once
// Each API area registers its routes here; main() calls them in order.
namespace ag {
class router;
struct services;

void register_agent_routes(router& r, services& svc);
void register_console_routes(router& r, services& svc);
void register_file_routes(router& r, services& svc);
void register_upload_routes(router& r, services& svc);
void register_log_routes(router& r, services& svc);
void register_git_routes(router& r, services& svc);
void register_snapshot_routes(router& r, services& svc);
} // namespace ag
