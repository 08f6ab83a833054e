-- wrk script: POST /data/v1/auth with the sandbox tenant's keys.
--   wrk -t1 -c64 -d10s --latency -s bench/lua/post_auth.lua http://127.0.0.1:PORT/data/v1/auth
-- Optional script arguments (after `--`): accessKey secretKey.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"accessKey":"sandbox-access-key","secretKey":"sandbox-secret-key"}'

function init(args)
  if args[1] and args[2] then
    wrk.body = '{"accessKey":"' .. args[1] .. '","secretKey":"' .. args[2] .. '"}'
  end
end
