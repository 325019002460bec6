-- pks-wrk.lua - wrk script for bench/pks-bench: keep-alive GETs of
-- /v1/keys/{hash} over random hashes of the provisioned rows, with the
-- deliver client's Basic credentials read from a file (not the command
-- line). PKS_HASHES and PKS_AUTH_FILE name the files.
local hashes = {}
local auth

init = function(args)
	for line in io.lines(os.getenv("PKS_HASHES")) do
		hashes[#hashes + 1] = line
	end
	local f = io.open(os.getenv("PKS_AUTH_FILE"))
	auth = f:read("*l")
	f:close()
	math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

request = function()
	local h = hashes[math.random(#hashes)]
	return wrk.format("GET", "/v1/keys/" .. h, {["Authorization"] = auth})
end

response = function(status, headers, body)
	if status ~= 200 then
		error("status " .. status)
	end
end
