#!/usr/bin/env bash
# scripts/slurm/hpo.sbatch on a real single-node Slurm cluster on this host:
# starts munged, slurmctld and slurmd with a configuration of their own (a
# temporary directory, free ports, a private munge socket and key; one node,
# this host, with its CPUs and two fake GPUs: GRES whose device files are
# /dev/null and /dev/zero, for which Slurm sets CUDA_VISIBLE_DEVICES as for
# real ones), then submits hpo.sbatch on a small copy of the synthetic
# Hyperband study:
#   1. the CPU variant (HPO_DEVICE=cpu), with CurveZMQ keys (HPO_KEYS) and
#      two worker tasks: the job must end COMPLETED with exit 0, the
#      database must hold the study as complete with every trial of the
#      plan, and both srun tasks must have joined as workers (names
#      HOST-cpu0 and HOST-cpu1);
#   2. again on the same database: the script must add --resume by itself
#      (hpo-query finds the study), the coordinator says the study is
#      complete, and the job ends COMPLETED with exit 0 without hanging on
#      workers that never hear "done";
#   3. with workers that exit at once (HPO_WORKER=/bin/false): the script must
#      stop the coordinator 5 s later and the job fail (exit 1), instead of
#      holding the allocation until its time limit;
#   4. and 5. the GPU variant, with HPO_GPU_BIND=gpus-per-task and =gres, on
#      the two fake GPUs, the worker replaced by a wrapper that records the
#      CUDA_VISIBLE_DEVICES and flags each task got, then runs the real
#      hpo-worker on the CPU: each task must see one GPU, not the other's,
#      and get --device cuda:0; the study must complete;
#   6. with HPO_REQUEUE=yes, the time-limit warning (USR1, as --signal sends
#      it) while the study runs: the coordinator must save, the job requeue
#      itself, and its second run resume the study and complete it.
# About 45 s. Then it stops the daemons it started and removes its files. Nothing of an
# installed Slurm is touched (no /etc/slurm, no systemd units, no cgroups).
#
# Usage: slurm_test.sh HPO_COORDINATOR HPO_WORKER HPO_QUERY HPO_KEYGEN SOURCE_DIR
# Exits 0 when every check passes, 1 when one fails, 77 (skipped) when not
# root or when Slurm and munge are not installed (Debian: apt-get install
# slurmctld slurmd slurm-client munge) or cannot start here (a failure
# instead under HPO_REQUIRE_ALL=1, see tests/util/skip.sh). Set
# HPO_KEEP_SLURM=1 to keep the files.
set -euo pipefail

if [ $# -ne 5 ]; then
  echo "usage: $0 HPO_COORDINATOR HPO_WORKER HPO_QUERY HPO_KEYGEN SOURCE_DIR" >&2
  exit 2
fi
coordinator=$1
worker=$2
query=$3
keygen=$4
source_dir=$5
sbatch_script=$source_dir/scripts/slurm/hpo.sbatch

# shellcheck source=../util/skip.sh
. "$(cd "$(dirname "$0")" && pwd)/../util/skip.sh"
[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root to start jobs; run the test as root"
for tool in slurmctld slurmd sbatch squeue scontrol srun munged python3 sqlite3; do
  command -v "$tool" >/dev/null 2>&1 ||
    skip "$tool not found; install Slurm and munge to run this test:" \
      "apt-get install -y slurmctld slurmd slurm-client munge"
done

# Nothing from an enclosing Slurm job (CI on a cluster) may leak in.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SLURM_' || true)

work=$(mktemp -d "${TMPDIR:-/tmp}/hpo_slurm_XXXXXX")
chmod 711 "$work" # munged wants every directory above its socket searchable
daemons=()         # pid files of what this test started
finish() {
  local status=$?
  if [ -f "$work/slurm.conf" ] && [ -f "$work/slurmctld.pid" ]; then
    SLURM_CONF=$work/slurm.conf scancel --quiet --user=root 2>/dev/null || true
  fi
  local pidfile pid pids=()
  for pidfile in "${daemons[@]}"; do
    pid=$(cat "$pidfile" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
    for log in "$work"/log/*.log "$work"/job*.out; do
      [ -f "$log" ] || continue
      echo "--- last lines of $log"
      tail -n 30 "$log"
    done
  fi
  if [ "$status" -ne 0 ] || [ -n "${HPO_KEEP_SLURM:-}" ]; then
    echo "files kept in $work"
  else
    rm -rf "$work"
  fi
}
trap finish EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
started=$SECONDS

# munge, private: its own key, socket, log, pid and seed files.
mkdir -p "$work/munge" "$work/log" "$work/state" "$work/spool"
chmod 755 "$work/munge"
head -c 1024 /dev/urandom >"$work/munge/munge.key"
chmod 600 "$work/munge/munge.key"
socket=$work/munge/munge.sock
daemons+=("$work/munge/munged.pid")
munged --socket="$socket" --key-file="$work/munge/munge.key" \
  --log-file="$work/log/munged.log" --pid-file="$work/munge/munged.pid" \
  --seed-file="$work/munge/munged.seed" ||
  skip "munged does not start here: $(tail -n 1 "$work/log/munged.log" 2>/dev/null)"

# Two free TCP ports, for slurmctld and slurmd.
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

host=$(hostname -s)
# This host as slurmd sees it (CPUs, sockets, cores, threads), memory left
# out so that nothing is enforced.
node=$(slurmd -C | head -n 1 | sed 's/ RealMemory=[0-9]*//')
case "$node" in NodeName=*) ;; *) skip "slurmd -C does not describe this host: $node" ;; esac
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
tasks=$((cpus >= 2 ? 2 : 1)) # workers per job
gpus=$tasks
{
  echo "AutoDetect=off"
  echo "NodeName=$host Name=gpu File=/dev/null"
  [ "$gpus" -lt 2 ] || echo "NodeName=$host Name=gpu File=/dev/zero"
} >"$work/gres.conf" # beside slurm.conf, where slurmd reads it
cat >"$work/slurm.conf" <<EOF
ClusterName=hpotest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
InactiveLimit=0
KillWait=5
MinJobAge=300
$node Gres=gpu:$gpus NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=hpotest Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf

daemons+=("$work/slurmd.pid" "$work/slurmctld.pid")
slurmctld -f "$SLURM_CONF" ||
  skip "slurmctld does not start here: $(tail -n 1 "$work/log/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" ||
  skip "slurmd does not start here: $(tail -n 1 "$work/log/slurmd.log" 2>/dev/null)"
state=
for _ in $(seq 150); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.1
done
[ "$state" = idle ] ||
  skip "the Slurm node did not become idle (state \"$state\"): $(tail -n 1 "$work/log/slurmd.log" 2>/dev/null)"
echo "slurm up in $((SECONDS - started)) s: node $host, $cpus CPU(s)"

# The study: the synthetic Hyperband study cut to 1..9 epochs (17 trials).
study=$work/slurm_synthetic.json
python3 - "$source_dir/studies/synthetic_hyperband.json" "$study" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["name"] = "slurm_synthetic"
spec["algorithm"]["max_epochs"] = 9
json.dump(spec, open(sys.argv[2], "w"), indent=2)
EOF
trials=$("$coordinator" --study "$study" --plan | python3 -c '
import json, sys
plan = json.load(sys.stdin)
print(sum(b["rungs"][0]["trials"] for b in plan["brackets"]))')

# Keys as the Slurm README makes them.
keys=$work/keys
mkdir -p "$keys/authorized"
"$keygen" --out "$keys/coordinator" >/dev/null
"$keygen" --out "$keys/worker" >/dev/null
cp "$keys/worker.pub" "$keys/authorized/"

# Submits hpo.sbatch with GPUs per node $3 (extra variables in $2, output
# in $1), waits for the job; prints "STATE EXITCODE" (e.g. "COMPLETED 0:0").
submit() {
  local out=$1 extra=$2 job_gpus=$3 id job
  id=$(sbatch --parsable --chdir="$work" --output="$work/$out" \
    --nodes=1 --ntasks-per-node="$tasks" --cpus-per-task=1 --gpus-per-node="$job_gpus" \
    --time=5 \
    --export="ALL,HPO_STUDY=$study,HPO_DB=$work/results.db,HPO_DATA=$work/data,HPO_CHECKPOINTS=$work/checkpoints,HPO_COORDINATOR=$coordinator,HPO_WORKER=$worker,HPO_QUERY=$query,HPO_SLOTS=2,HPO_WORKER_GRACE=5$extra" \
    "$sbatch_script")
  for _ in $(seq 400); do
    job=$(scontrol show job "$id" 2>/dev/null || true)
    case "$job" in
      *JobState=PENDING* | *JobState=CONFIGURING* | *JobState=RUNNING* | *JobState=COMPLETING*) ;;
      *JobState=*) break ;;
    esac
    sleep 0.2
  done
  sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p; s/.* ExitCode=\([0-9:]*\).*/\1/p' <<<"$job" | paste -sd ' '
}
mkdir -p "$work/data"

# 1. A new study, with keys.
t=$SECONDS
result=$(submit job1.out ",HPO_DEVICE=cpu,HPO_KEYS=$keys" 0)
echo "job 1: $result in $((SECONDS - t)) s"
[ "$result" = "COMPLETED 0:0" ] || fail "job 1 ended \"$result\", expected \"COMPLETED 0:0\""
grep -q 'CurveZMQ on' "$work/job1.out" || fail "job 1: the coordinator did not use the keys"
grep -q 'resuming' "$work/job1.out" && fail "job 1 resumed a study that did not exist"
summary=$("$query" --db "$work/results.db" studies --format json)
python3 - "$summary" "$trials" <<'EOF' || fail "job 1: the database does not hold the complete study: $summary"
import json, sys
rows = json.loads(sys.argv[1])
study, = [r for r in rows if r["name"] == "slurm_synthetic"]
assert study["state"] == "complete", study
assert study["trials"] == int(sys.argv[2]), study
assert study["complete"] + study["pruned"] == study["trials"], study
EOF
names=$(sqlite3 "$work/results.db" "SELECT DISTINCT name FROM workers ORDER BY name" | paste -sd ' ')
expected=$(for ((i = 0; i < tasks; i++)); do echo "$host-cpu$i"; done | paste -sd ' ')
[ "$names" = "$expected" ] || fail "job 1: workers \"$names\" joined, expected \"$expected\""

# 2. The same again: resumed, found complete, done.
t=$SECONDS
result=$(submit job2.out ",HPO_DEVICE=cpu" 0)
echo "job 2: $result in $((SECONDS - t)) s"
[ "$result" = "COMPLETED 0:0" ] || fail "job 2 ended \"$result\", expected \"COMPLETED 0:0\""
grep -q 'resuming' "$work/job2.out" || fail "job 2 did not add --resume"
grep -q 'already complete' "$work/job2.out" || fail "job 2: the coordinator did not find the study complete"

# 3. Workers that cannot run (here /bin/false): the job must not hold the
#    allocation; the script stops the coordinator and fails.
t=$SECONDS
result=$(submit job3.out ",HPO_DEVICE=cpu,HPO_DB=$work/results3.db,HPO_WORKER=/bin/false" 0)
echo "job 3: $result in $((SECONDS - t)) s"
[ "$result" = "FAILED 1:0" ] || fail "job 3 ended \"$result\", expected \"FAILED 1:0\""
grep -q 'no workers left and the study is not over' "$work/job3.out" ||
  fail "job 3: the script did not say why it stopped the coordinator"

# 4. and 5. One GPU per worker, as Slurm binds them.
cat >"$work/gpu-worker" <<WRAPPER
#!/bin/bash
# Records what this task got, then runs hpo-worker on the CPU.
echo "\$HPO_GPU_BIND task \$SLURM_LOCALID: CUDA_VISIBLE_DEVICES=\${CUDA_VISIBLE_DEVICES-unset} \$*" >>"$work/gpu-tasks.log"
args=()
for a in "\$@"; do
  [ "\$a" = cuda:0 ] && a=cpu
  args+=("\$a")
done
exec "$worker" "\${args[@]}"
WRAPPER
chmod +x "$work/gpu-worker"
for bind in gpus-per-task gres; do
  t=$SECONDS
  db=$work/results-$bind.db
  result=$(submit "job-$bind.out" ",HPO_DEVICE=cuda,HPO_GPU_BIND=$bind,HPO_DB=$db,HPO_WORKER=$work/gpu-worker" "$gpus")
  echo "job $bind: $result in $((SECONDS - t)) s"
  [ "$result" = "COMPLETED 0:0" ] || fail "job $bind ended \"$result\", expected \"COMPLETED 0:0\""
  seen=$(grep "^$bind task" "$work/gpu-tasks.log" || true)
  [ "$(wc -l <<<"$seen")" -eq "$tasks" ] || fail "job $bind: expected $tasks worker tasks, got: $seen"
  devices=$(sed -n 's/.*CUDA_VISIBLE_DEVICES=\([^ ]*\) .*/\1/p' <<<"$seen" | sort | paste -sd ' ')
  expected=$(seq 0 $((gpus - 1)) | paste -sd ' ')
  [ "$devices" = "$expected" ] ||
    fail "job $bind: the tasks saw CUDA_VISIBLE_DEVICES \"$devices\", expected one each: \"$expected\" ($seen)"
  [ "$(grep -c -- '--device cuda:0' <<<"$seen")" -eq "$tasks" ] ||
    fail "job $bind: not every task got --device cuda:0: $seen"
  state=$("$query" --db "$db" studies --format json)
  grep -q '"state": *"complete"' <<<"$state" || fail "job $bind: the study is not complete: $state"
  names=$(sqlite3 "$db" "SELECT DISTINCT name FROM workers ORDER BY name" | paste -sd ' ')
  expected=$(for ((i = 0; i < tasks; i++)); do echo "$host-cuda$i"; done | paste -sd ' ')
  [ "$names" = "$expected" ] || fail "job $bind: workers \"$names\" joined, expected \"$expected\""
done

# 6. The time limit nears (the USR1 of --signal=B:USR1@120, sent here by
#    hand) with HPO_REQUEUE=yes: the coordinator saves, the job is requeued
#    and, run again, resumes the study and completes it.
t=$SECONDS
db=$work/results-requeue.db
id=$(sbatch --parsable --requeue --chdir="$work" --output="$work/job-requeue.out" \
  --nodes=1 --ntasks-per-node="$tasks" --cpus-per-task=1 --gpus-per-node=0 --time=5 \
  --export="ALL,HPO_STUDY=$study,HPO_DB=$db,HPO_DATA=$work/data,HPO_COORDINATOR=$coordinator,HPO_WORKER=$worker,HPO_QUERY=$query,HPO_DEVICE=cpu,HPO_SLOTS=1,HPO_WORKER_GRACE=5,HPO_REQUEUE=yes,HPO_LOG=$work/requeue.log" \
  "$sbatch_script")
for _ in $(seq 300); do
  grep -q 'joined study' "$work/job-requeue.out" 2>/dev/null && break
  sleep 0.1
done
scancel --batch --signal=USR1 "$id"
runs=0
requeued=
for _ in $(seq 300); do
  job=$(scontrol show job "$id" 2>/dev/null || true)
  runs=$(grep -c 'listening on.*results in' "$work/requeue.log" || true)
  case "$job" in
    *JobState=PENDING*Reason=BeginTime*)
      # Slurm delays a requeued job's start until the old credential has
      # expired (2 minutes); a credential made in a later second is accepted.
      [ -n "$requeued" ] || requeued=$SECONDS
      [ $((SECONDS - requeued)) -lt 2 ] || scontrol update JobId="$id" StartTime=now
      ;;
    *JobState=COMPLETED* | *JobState=FAILED* | *JobState=CANCELLED* | *JobState=TIMEOUT*)
      [ "$runs" -ge 2 ] && break
      ;;
  esac
  sleep 0.2
done
result=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p; s/.* ExitCode=\([0-9:]*\).*/\1/p' <<<"$job" | paste -sd ' ')
echo "job requeue: $result after $runs run(s) in $((SECONDS - t)) s"
[ "$result" = "COMPLETED 0:0" ] || fail "job requeue ended \"$result\", expected \"COMPLETED 0:0\""
[ "$runs" -eq 2 ] || fail "job requeue: the coordinator ran $runs time(s), expected 2"
grep -q 'terminated; stopping the trials in progress and saving' "$work/requeue.log" ||
  fail "job requeue: the first run did not save on USR1"
for line in 'got USR1' 'requeueing job' '(resuming)' 'study "slurm_synthetic" complete'; do
  grep -qF "$line" "$work/job-requeue.out" || fail "job requeue: no \"$line\" in the job's output"
done
summary=$("$query" --db "$db" studies --format json)
grep -q '"state": *"complete"' <<<"$summary" || fail "job requeue: the study is not complete: $summary"

echo "PASS: hpo.sbatch ran study slurm_synthetic ($trials trials) on $tasks CPU worker(s) with keys, resumed it, stopped it without workers, gave $gpus fake GPU(s) one per worker with --gpus-per-task and --gres, and requeued itself near the time limit, in $((SECONDS - started)) s"
