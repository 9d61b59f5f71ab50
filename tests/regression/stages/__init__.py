"""The chain's engine: a stage's plan, command and environment (stage), its run (stage_run) and its one
verdict (judge); stages --jobs at a time (scheduler); the stage store and reuse (stage_store, reuse); the
rerun of failures (rerun); progress lines (progress); publishing a run whole (publish); the CLI's arguments
(chain_args)."""
