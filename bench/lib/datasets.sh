# Datasets for the training benchmarks, made with hpo's own tools: sourced
# by bench/train_bench.sh and bench/gpu/run.sh. The caller sets PREP (the
# hpo-prep binary), PYTHON (a python3 with numpy), TMP (where datasets go)
# and JOBS (hpo-prep's --jobs).

# Rewrites the set/split column of a tracks.csv in FMA's layout: the k-th
# track (from 0) goes to validation when k % 10 == 8, to test when
# k % 10 == 9, else to training. A fixed 80/10/10 split keeps the
# validation pass that ends each epoch small (12.5% as many samples as
# training, forward only: about 4% of an epoch's work).
resplit() {  # TRACKS_CSV
  "$PYTHON" - "$1" <<'EOF_PY'
import csv, sys
path = sys.argv[1]
with open(path, newline="") as f:
    rows = list(csv.reader(f))
c = [i for i in range(len(rows[0]))
     if rows[0][i] == "set" and rows[1][i] == "split"][0]
for k, row in enumerate(rows[3:]):
    row[c] = {8: "validation", 9: "test"}.get(k % 10, "training")
with open(path, "w", newline="") as f:
    csv.writer(f, lineterminator="\r\n").writerows(rows)
EOF_PY
}
make_mel() {  # NAME TRACKS_PER_CLASS SEED
  "$PREP" synth --out "$TMP/synth_$1" --classes 8 --tracks-per-class "$2" \
    --seconds 10 --seed "$3" --jobs "$JOBS" >/dev/null
  resplit "$TMP/synth_$1/tracks.csv"
  "$PREP" fma --metadata "$TMP/synth_$1/tracks.csv" \
    --audio "$TMP/synth_$1/audio" --subset small --out "$TMP/$1" \
    --min-seconds 1 --jobs "$JOBS" | tail -1
}

# A vector dataset like FMA's features.csv: a tracks.csv in FMA's layout
# (synth's header and columns, TRACKS rows) and a features.csv with FMA's
# three header rows and 518 feature columns (random values with class-
# dependent means), then `hpo-prep features-csv`: float32 [N, 518] shards in
# $TMP/NAME.
make_vectors() {  # NAME TRACKS
  local name=$1 tracks=$2
  "$PREP" synth --out "$TMP/synth_header" --classes 8 --tracks-per-class 1 \
    --seconds 1 --seed 3 --jobs 1 >/dev/null
  "$PYTHON" - "$TMP/synth_header/tracks.csv" "$TMP/${name}_meta" \
    "$tracks" <<'EOF'
import csv, io, os, sys
import numpy as np
header_path, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(header_path, newline="") as f:
    rows = list(csv.reader(f))
groups, names = rows[0], rows[1]
def column(group, name):
    for i in range(len(groups)):
        if groups[i] == group and names[i] == name:
            return i
    sys.exit("%s: no column (%s, %s)" % (header_path, group, name))
c_genre = column("track", "genre_top")
template = rows[3]
genres = sorted({r[c_genre] for r in rows[3:]})
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "tracks.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerows(rows[:3])
    for k in range(n):
        row = list(template)
        row[0] = str(k + 1)
        row[c_genre] = genres[k % len(genres)]
        w.writerow(row)
rng = np.random.default_rng(3)
d = 518
means = rng.normal(size=(len(genres), d))
values = rng.normal(size=(n, d)) + means[np.arange(n) % len(genres)]
with open(os.path.join(out, "features.csv"), "w") as f:
    f.write("feature," + ",".join("f%03d" % (i // 7) for i in range(d)) + "\n")
    f.write("statistics," + ",".join("s%d" % (i % 7) for i in range(d)) + "\n")
    f.write("number," + ",".join("%02d" % (i % 20) for i in range(d)) + "\n")
    f.write("track_id" + "," * d + "\n")
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([np.arange(1, n + 1), values]),
               fmt=["%d"] + ["%.6e"] * d, delimiter=",")
    f.write(buf.getvalue())
EOF
  resplit "$TMP/${name}_meta/tracks.csv"
  "$PREP" features-csv --metadata "$TMP/${name}_meta" --subset small \
    --out "$TMP/$name" | tail -1
}
