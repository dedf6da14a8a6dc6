"""The file plumbing both packages use: one home, the one module ``tuning`` imports it from.

    writing    atomic outputs (a temporary name beside the target, renamed on success), staged
               folders, the modes of new files and folders under the umask
    reading    checked JSON, strict YAML (true/false only, duplicate keys refused), "did you mean"
    schema     declared settings: Fields (type, default, bounds, choices) read by one check,
               with the one-line messages of every configuration of both packages
    commands   output paths checked at the door, labels a spreadsheet would run, SIGTERM as
               Ctrl-C, the one-line error contract of both command lines and the options
               both take (--version, -v, -q, accepted before or after the sub-command)

The errors are budgetlaw's (budgetlaw.InputError, the base of tuning.InputError); a reader
called from tuning passes ``error=tuning.InputError``. The guarantees these give are written
down in docs/guarantees.md.
"""

from budgetlaw.fileio.commands import (MAX_MESSAGE, add_global_options, check_output, log_level, one_line, run_command,
                                       sigterm_as_interrupt, unsafe_label)
from budgetlaw.fileio.reading import did_you_mean, read_json, read_yaml, strict_yaml_loader, yaml_reason, yaml_value
from budgetlaw.fileio.schema import NO_DEFAULT, Field, Schema, declared
from budgetlaw.fileio.writing import (atomic_paths, atomic_write, chmod_tree, dir_mode, file_mode, staged_folder,
                                      umask, write_json, write_text_atomic)

__all__ = [
    # writing
    "umask", "file_mode", "dir_mode", "chmod_tree", "atomic_paths", "atomic_write", "write_text_atomic", "write_json",
    "staged_folder",
    # reading
    "read_json", "strict_yaml_loader", "read_yaml", "yaml_value", "yaml_reason", "did_you_mean",
    # schema
    "Field", "Schema", "declared", "NO_DEFAULT",
    # commands
    "check_output", "one_line", "run_command", "add_global_options", "log_level", "sigterm_as_interrupt", "MAX_MESSAGE", "unsafe_label",
]
