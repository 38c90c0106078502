-- Every purchase is one trace: the W3C traceparent of the span that created it. Later events
-- (webhooks, timers, refunds) continue that trace, linking to whatever delivered them.
alter table purchases add column trace_context text check (length(trace_context) <= 512);
