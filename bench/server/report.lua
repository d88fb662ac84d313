-- wrk's report for bench/server/run.sh: one line, "ATOTA-BENCH requests bytes seconds errors".
-- errors counts socket errors (connect, read, write, timeout) and answers with a status >= 400.
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("ATOTA-BENCH %d %d %.6f %d\n", summary.requests, summary.bytes,
        summary.duration / 1e6, e.connect + e.read + e.write + e.timeout + e.status))
end
