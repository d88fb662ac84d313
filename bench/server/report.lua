-- wrk's report for bench/server/run.sh: one line,
-- "ATOTA-BENCH requests bytes seconds errors connect read write timeout status"
-- where errors is the sum of the socket errors (connect, read, write, timeout) and the answers
-- with a status >= 400 (status).
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("ATOTA-BENCH %d %d %.6f %d %d %d %d %d %d\n", summary.requests,
        summary.bytes, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout + e.status,
        e.connect, e.read, e.write, e.timeout, e.status))
end
