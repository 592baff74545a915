"""Aggregate a /proc/PID/smaps copy by mapping kind: Rss, Pss, Private_Dirty in kB.

    python3 bench/prototypes/smaps_by_mapping.py /tmp/sup-smaps/monitor-last.smaps
"""

import collections
import re
import sys

for path in sys.argv[1:]:
    maps, cur = [], None
    for line in open(path):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split()
            cur = {"name": parts[5] if len(parts) > 5 else "[anon]", "perm": parts[1]}
            maps.append(cur)
        else:
            key, val = line.split(":", 1)
            val = val.split()
            if val and val[0].isdigit():
                cur[key] = int(val[0])
    agg = collections.defaultdict(collections.Counter)
    for m in maps:
        name = m["name"]
        if "python" in name:
            name = f"python binary ({m['perm']})"
        elif ".so" in name:
            name = "shared libraries"
        elif name.startswith("/"):
            name = "other files"
        for key in ("Rss", "Pss", "Private_Dirty"):
            agg[name][key] += m.get(key, 0)
    print("==", path)
    total = collections.Counter()
    for name, c in sorted(agg.items(), key=lambda x: -x[1]["Pss"]):
        total.update(c)
        print(f"  {name:36} Rss {c['Rss']:6} Pss {c['Pss']:6} Private_Dirty {c['Private_Dirty']:6}")
    print(f"  {'TOTAL':36} Rss {total['Rss']:6} Pss {total['Pss']:6} Private_Dirty {total['Private_Dirty']:6}")
