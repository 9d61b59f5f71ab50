"""The pytest plugins of a stage process: the import guard and the registry/state watch (guard, patches,
state_watch), the per-test records (records, record_fields, record_io, quantization_use), the files a stage
reads (inputs) and coverage of new cases only (trace_once)."""
