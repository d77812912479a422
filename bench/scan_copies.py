"""The pure layout copies in a compiled step: Triton kernels that load one tensor and store it unchanged elsewhere.

Reads Inductor's generated code for a graph (the `c*.py` output-code module of the step, under the Inductor cache dir,
`/tmp/torchinductor_$USER` by default) and a `profile_kernels.py` table of the same graph, and lists every kernel
whose only work is a load and a store at another index, with its profiled time. Two kinds are told apart:

- weight conversions: a 3x3 convolution's weights read as `(Cout, Cin, 3, 3)` and written channels-last, on every
  step, because the parameters are stored channels-first and Inductor runs the convolutions channels-last;
- other copies: activations moved between layouts (around the temporal attentions, for example).

    python bench/scan_copies.py CODE.py KERNELS.md [--out copies.md]

On a GPU machine, after `profile_kernels.py --out KERNELS.md`, the module to read is the cached one that defines the
table's kernels: `grep -rl "def <a kernel of the table>" /tmp/torchinductor_$USER --include=*.py`.
"""
import argparse
import re
from pathlib import Path


def kernels(code: str) -> dict[str, str]:
    "Each Triton kernel's name and source in an Inductor output-code module."
    return {m.group(1): m.group(2) for m in
            re.finditer(r"^(triton_\w+) = async_compile\.triton\('\w+', '''(.*?)'''", code, re.S | re.M)}


def copy_kind(src: str) -> str | None:
    "'weight' or 'copy' if the kernel only loads one tensor and stores it at another index, else None."
    loads = dict(re.findall(r"(tmp\d+) = tl\.load\(in_ptr\d+ \+ \((.*?)\),", src))
    stores = re.findall(r"tl\.store\(out_ptr\d+ \+ \((.*?)\), (tmp\d+)", src)
    if len(loads) != 1 or len(stores) != 1: return None
    index, t = stores[0]
    if t not in loads or loads[t] == index: return None
    return "weight" if re.fullmatch(r"x\d+ \+ 9\*y\d+", loads[t]) else "copy"


def profiled(table: str) -> dict[str, tuple[int, float]]:
    "Calls and ms per step of each kernel in a profile_kernels.py table (its first listing of the kernel)."
    out = {}
    for line in table.splitlines():
        m = re.match(r"\| `(triton_\w+)` \| [^|]+ \| (\d+) \| ([\d.]+) \|", line)
        if m and m.group(1) not in out: out[m.group(1)] = (int(m.group(2)), float(m.group(3)))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("code", help="Inductor's output-code module of the step")
    p.add_argument("profile", help="a profile_kernels.py table of the same graph")
    p.add_argument("--out", help="also write the table to this markdown file")
    a = p.parse_args(argv)
    ks, prof = kernels(Path(a.code).read_text()), profiled(Path(a.profile).read_text())
    copies = {n: kind for n, src in ks.items() if (kind := copy_kind(src))}
    rows = [(n, kind, *prof[n]) for n, kind in copies.items() if n in prof]
    missing = len(copies) - len(rows)
    lines = ["# Pure layout copies in a compiled step", "",
             f"{len(ks)} Triton kernels in `{Path(a.code).name}`; profile `{Path(a.profile).name}`. "
             f"{len(rows)} kernels only move data{f' ({missing} more not in the profile table)' if missing else ''}.", ""]
    for kind, title in (("weight", "3x3 convolution weights converted to channels-last every step"),
                        ("copy", "activations copied between layouts")):
        sel = sorted((r for r in rows if r[1] == kind), key=lambda r: -r[3])
        lines += [f"{title}: {len(sel)} kernels, {sum(r[2] for r in sel)} calls, {sum(r[3] for r in sel):.2f} ms per step", ""]
        lines += ["| kernel | calls per step | ms per step |", "|---|---:|---:|"]
        lines += [f"| `{n}` | {c} | {ms:.3f} |" for n, _, c, ms in sel] + [""]
    text = "\n".join(lines)
    print(text)
    if a.out: Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
