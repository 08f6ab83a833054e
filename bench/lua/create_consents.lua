-- wrk script: POST /data/v1/consents through one link, each request with a new
-- externalTrackId and a new valid CPF. After LIMIT responses the thread stops and prints
-- "klavi-bench: limit reached" on stdout; wrk itself still waits out -d (its main thread
-- sleeps for the duration), so bench/run.py sends it SIGINT on that line, which makes wrk
-- print its summary at once. -d bounds the time in any case.
--   wrk -t1 -c64 -d300s --timeout 10s --latency -s bench/lua/create_consents.lua \
--       http://127.0.0.1:PORT/data/v1/consents -- LINK_TOKEN LIMIT PREFIX
-- Use -t1: the counter and the externalTrackIds are per thread.
local limit, prefix = 100000, "bench"
local sent, received, stopped = 0, 0, false

local function check_digit(digits, first_weight)
  local sum = 0
  for i = 1, #digits do
    sum = sum + digits[i] * (first_weight - i + 1)
  end
  local r = sum % 11
  if r < 2 then return 0 end
  return 11 - r
end

-- A valid CPF from a 9-digit base (klavi_mock/domain/taxid.py make_cpf, in Lua). Bases
-- start at 100000000, far from the personas' CPFs (000000001xx...) and never all one digit.
local function cpf(n)
  local base = string.format("%09d", 100000000 + n)
  local digits = {}
  for i = 1, 9 do digits[i] = tonumber(base:sub(i, i)) end
  digits[10] = check_digit(digits, 10)
  digits[11] = check_digit(digits, 11)
  return base .. digits[10] .. digits[11]
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  limit = tonumber(args[2]) or limit
  prefix = args[3] or prefix
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"externalTrackId":"%s-%d","personalTaxId":"%s","institutionCode":"341",' ..
    '"redirectURL":"https://partner.example.com/return","validityPeriod":12}',
    prefix, sent, cpf(sent))
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  received = received + 1
  if received >= limit and not stopped then
    stopped = true
    io.write("klavi-bench: limit reached\n")
    io.flush()
    wrk.thread:stop()
  end
end
