-- wrk script: POST the file named by $BENCH_AUDIO as multipart field `audio` to the URL.
local path = os.getenv("BENCH_AUDIO")
local f = assert(io.open(path, "rb"))
local data = f:read("*a")
f:close()
local boundary = "----coughkitbench7d3f"
local name = path:match("([^/]+)$")
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
  'Content-Disposition: form-data; name="audio"; filename="' .. name .. '"\r\n' ..
  "Content-Type: audio/webm\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
