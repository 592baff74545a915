"""Pieces of flags that several commands share, as docker/cli shares them: the checks of
opts.ValidateLabel and of FilterOpt's format (raised as ValueError, which the flag parser
turns into pflag's ``invalid argument "..." for "--x" flag: ...``), and flagsHelper's
``--format`` help texts."""

FORMAT_HELP = """Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"""
INSPECT_FORMAT_HELP = """Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"""


def validate_label(item: str) -> str:
    """opts.ValidateLabel: a non-empty name without blanks; the item is kept as it is."""
    name = item.partition("=")[0].lstrip(" \t")
    if not name:
        raise ValueError(f"invalid label '{item}': empty name")
    if " " in name or "\t" in name:
        raise ValueError(f"label '{name}' contains whitespaces")
    return item


def validate_filter(item: str) -> str:
    """opts.FilterOpt's check of one ``--filter`` ("" is let through: Set ignores it)."""
    if item and "=" not in item:
        raise ValueError("bad format of filter (expected name=value)")
    return item
