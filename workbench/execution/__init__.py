"""Running tasks, one way for every surface:

- `request`: what a surface asks for (`RunRequest`);
- `plan`: the mode it runs in, decided once, and every option checked against it (`plan_run`);
- `runner`: prepare -> execute -> finish with the hooks in one place (`Runner`);
- `dispatch`: a planned run executed here, or queued for a worker (`--detach`);
- `executors`: the only part that differs by mode (in memory, out of core, streamed, Ray);
- `streaming`, `ray`: scoring batches and writing parts, here or on a cluster;
- `results`: writing outputs (`--out` whole or not at all, `_SUCCESS`);
- `heartbeat`, `jobs`, `worker`: liveness, the queue and its workers; `sweep`: a grid of runs.
"""
