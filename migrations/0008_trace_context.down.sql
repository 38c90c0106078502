alter table purchases drop column trace_context;
