wrk.method = "POST"
wrk.body = '{"command":"true"}'
wrk.headers["Content-Type"] = "application/json"
