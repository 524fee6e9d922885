"""`consentgate bench`: the gate against the raw Kafka limit, over the same input, in one run.

One run on the local stack (the one in KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL, else the
embedded stack, started for the run and stopped after it if it was not already running), on topics
and a consumer group of its own:

1. **State.** Partner agreements and 1,000,000 consent and opt-out records over 800,000
   recipients (about 10% of them opted out), from `streams.devtools.workload`, encoded up front and
   produced without waiting per record.

   The worker's agent does not apply them: at the ~1.4k records/s one faust worker manages on a
   2-core machine that alone would take twelve minutes. Two child processes apply them with the
   gate's own code (`Gate.apply_state_record` on a dict) and write every table write to the
   table's changelog topic, the records the worker would have written; the gate's consumer group
   is then committed at the end of the consent topics. The rate at which the live worker applies
   state records is measured separately, on a sample (step 5).
2. **Cold start.** The worker starts on an empty data directory and rebuilds the table from the
   changelog: *cold recovery* is the time from spawning it to faust's `Ready` (which faust logs
   once table recovery is complete and the agents run). Then it is stopped.
3. **Baseline.** 200,000 send intents (~70% promotional, 20% transactional, 10% legal and opt-out
   confirmations, ~1% invalid) are produced. A plain confluent-kafka loop in a child process
   consumes them, decodes each with `WireCodec.decode`, encodes a verdict-shaped record with
   `WireCodec.encode` and produces it: no decision, no state. What Python and Kafka allow here.
4. **The gate.** The worker restarts on its data directory and drains the same intents for at
   most `drain_seconds`; what is left is skipped (the group's offsets moved to the end). Then
   **the gate's code alone**: in a child process, the workload's state applied to a dict and
   up to 20,000 of its intents decided by `Gate.decide_intent`, with no faust, Kafka or RocksDB
   (`gatecode.py`). Its CPU per intent is the floor under the worker's CPU per verdict.

   *Sustained verdicts/s*, for both: (verdicts - 1) / (broker timestamp of the last verdict -
   broker timestamp of the first), read back from the output topic. The bench creates the verdict
   topics with `message.timestamp.type=LogAppendTime`, like the intents topic, so every timestamp
   compared is the broker's.
5. **Warm restart** (a probe intent produced at spawn time gives the time to the first verdict),
   then **state ingest**: fresh consent records through the live worker.
6. **Latency at a fixed rate.** Fresh intents at `--latency-load` (default 60%) of the gate's
   measured rate. Decision latency is the verdict's broker append time minus its intent's broker
   append time (both LogAppendTime; the intent's comes back in its delivery report).
7. **Opt-out to enforcement.** For recipients whose promotional intent the gate allowed in step 4:
   produce an opt-out and wait for its acknowledgement, then at once a promotional intent for the
   same recipient; the sample is the time from the opt-out's ack to the deny verdict's arrival at
   a consumer in this process.
8. **Scale-out** (`--scale-workers N`, off by default). Fresh intents decided by one worker, then
   by N workers in one group on their own data directories, both measured the same way (live,
   after every partition answered a probe): the speedup says whether adding workers helps on
   this machine (`scale.py`).

Peak worker memory is the largest VmHWM of the worker processes (/proc/PID/status, polled).
*CPU per verdict* is the worker's CPU time during the drain (step 4) over its verdicts; the *cold
rebuild rate* is the changelog's records over the replay seconds faust logs in step 2.
`--quick` runs the same steps on small sizes (about 30 seconds): CI proves the benchmark works
with it; its numbers mean nothing. `--json` prints only the report, one JSON object.

Modules: `sizes` (how big a run is), `seeding` (step 1's child processes), `child` (a measured
child process), `baseline` (step 3's child), `gatecode` (step 4's code-alone child), `kafkaio`
(readers, offsets, group commits), `measure` / `scrape` / `host` (numbers from /proc, the
worker's metrics and log, the machine), `load`, `restarts`, `throughput`, `latency`, `optout`,
`scale` (the steps), `runner` (one run in order), `report` (definitions, order, table).
The command itself is `streams.cli.bench`.
"""

from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.report import DEFINITIONS, TARGETS, render_table
from streams.devtools.bench.runner import Bench, Options
from streams.devtools.bench.sizes import FULL, QUICK, Sizes, sizes_from

__all__ = [
    "DEFINITIONS",
    "FULL",
    "QUICK",
    "TARGETS",
    "Bench",
    "BenchError",
    "Options",
    "Sizes",
    "render_table",
    "sizes_from",
]
