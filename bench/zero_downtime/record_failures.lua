-- wrk script for bench/zero_downtime: constant load (each connection waits `delay` ms
-- between requests) and the time (CLOCK_MONOTONIC, the clock Python's time.monotonic
-- reads) of every answer that is not 2xx, written to $ZERO_DOWNTIME_WRK_OUT at the end.
-- Socket errors have no Lua callback: wrk only counts them (its report's "Socket errors").
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } zd_timespec;
int clock_gettime(int clock_id, zd_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local MAX_KEPT = 20000
local ts = ffi.new("zd_timespec")

local function now()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}
local pause_ms = tonumber(os.getenv("ZERO_DOWNTIME_DELAY_MS") or "0")

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    bad = {}
    nbad = 0
end

function delay()
    return pause_ms
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        nbad = nbad + 1
        if nbad <= MAX_KEPT then
            bad[nbad] = string.format("bad %.6f %d", now(), status)
        end
    end
end

function done(summary, latency, requests)
    local path = os.getenv("ZERO_DOWNTIME_WRK_OUT")
    if not path then
        return
    end
    local out = assert(io.open(path, "w"))
    local total = 0
    for _, thread in ipairs(threads) do
        total = total + (thread:get("nbad") or 0)
    end
    out:write(string.format("non2xx %d\n", total))
    for _, thread in ipairs(threads) do
        local lines = thread:get("bad") or {}
        for _, line in ipairs(lines) do
            out:write(line, "\n")
        end
    end
    out:close()
end
