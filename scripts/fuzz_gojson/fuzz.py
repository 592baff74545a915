"""Differential fuzz of ketch.apitypes.gojson.parse_value against Go's json.Decoder.

    scripts/fuzz_gojson/fuzz.py [SEED]     (needs Debian's golang; builds main.go once)

Mutates a few JSON bodies 20,000 times, asks Go (Decode, then More) and ketch about
each, and prints every difference in the error text.
"""
import base64, os, random, subprocess, sys, tempfile
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
BINARY = os.path.join(tempfile.gettempdir(), "ketch-fuzz-gojson")
if not os.path.exists(BINARY):
    subprocess.run(["go", "build", "-o", BINARY, os.path.join(HERE, "main.go")], check=True,
                   env=dict(os.environ, GO111MODULE="off", GOCACHE=os.path.join(tempfile.gettempdir(), "ketch-gocache")))
from ketch.apitypes import gojson
from ketch.errors import InvalidArgument
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
seeds = [b'{"Image":"busybox","Cmd":["sh","-c","echo hi"],"Env":["A=1"],"HostConfig":{"Memory":1024,"CpuShares":-5e3,"Binds":null,"Privileged":true}}',
         b'[1, 2.5, -0, "x\\u00e9\\n", {"a": [true, false, null]}]', b'  {"a" : {"b" : [ ] } }  ', b'"\\ud83d\\ude00"', b'123', b'-1.5e+10']
alphabet = b'{}[]":,\\ \t\n\r01-+.eEtrufalsn\\u\x00\x1f\x7f\xc3\xa9\xffabcxyz/'
cases = []
for _ in range(20000):
    s = bytearray(random.choice(seeds))
    for _ in range(random.randint(1, 4)):
        op = random.random()
        i = random.randrange(len(s) + 1)
        if op < 0.4 and s:
            del s[min(i, len(s) - 1)]
        elif op < 0.8:
            s.insert(i, random.choice(alphabet))
        else:
            s = s[:i]
    cases.append(bytes(s))
out = subprocess.run([BINARY], input="\n".join(base64.b64encode(c).decode() for c in cases).encode() + b"\n",
                     capture_output=True).stdout.decode("utf-8", "replace").splitlines()
bad = 0
for c, go in zip(cases, out):
    try:
        v, more = gojson.parse_value(c)
        mine = "MORE" if more else "OK"
    except InvalidArgument as e:
        mine = "ERR " + str(e).removeprefix("invalid JSON: ")
    if not c.strip(b" \t\r\n"):
        continue  # no value: moby's own EOF text, handled by the callers
    if mine != go:
        bad += 1
        if bad <= 15:
            print(repr(c), "| go:", go, "| ketch:", mine)
print("mismatches", bad, "of", len(cases))
