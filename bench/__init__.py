"""farside benchmarks: ``python -m bench.run`` (``make bench``).

Modules
-------
surveys   simulated benchmark surveys (small / medium / large), generated once per seed
          under ``bench/data/`` and reused.
memory    peak resident memory of a process tree (psutil sampling thread) and
          ``run_measured``: a command in a subprocess with a wall-clock limit.
stages    per-stage wall time of a dask run, measured from outside through a dask
          ``Callback`` (no change to the pipeline).
child     the measured jobs, each run in its own subprocess: pipeline, floor, stitcher.
accuracy  geolocation, correlation, seam and coverage metrics against the generator truth.
report    the Markdown tables and the JSON document.
machine   CPU model, cores, memory and library versions.
run       the command line that ties them together.
"""
