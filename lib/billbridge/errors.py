"""billbridge's one error tree.

::

    BillbridgeError                    anything billbridge refuses, in plain words (CLI exit 2)
    ├── InputError                     bad input: carries ``row``, ``column`` and ``reason`` when known
    ├── ConfigError                    configuration that cannot work (missing key, bad URL)
    ├── NotFoundError                  a thing the operator named does not exist (month, run, plan …)
    ├── ConservationError              a plan lost or double-counted a vendor line (a bug, never input)
    ├── StalePlanError                 a push of a plan that is out of date (a newer read, a newer month pushed)
    └── ConnectWiseError               (billbridge.connectwise.errors) HTTP status, CW code, message,
                                       per-field errors; CLI exit 3 when ConnectWise is unreachable or
                                       refuses the credentials

No bare ``ValueError`` crosses the library's edge: the CLI turns a :class:`BillbridgeError` into one
line and an exit code (:attr:`BillbridgeError.exit_code`), a page shows it with ``st.error``. The
children also derive from the matching built-in (``ValueError``, ``LookupError``) so older callers'
``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["BillbridgeError", "InputError", "ConfigError", "NotFoundError", "ConservationError", "StalePlanError",
           "EXIT_USAGE",
           "EXIT_CW", "EXIT_FAILED"]

#: exit codes of the ``billbridge`` command (README "Command line")
EXIT_FAILED = 1  # some rows failed / something the operator must act on
EXIT_USAGE = 2  # bad usage or invalid input
EXIT_CW = 3  # ConnectWise (or a vendor API) unreachable or refusing the credentials


class BillbridgeError(Exception):
    """Something billbridge cannot do, said in plain words (``str(err)`` is what the operator reads)."""

    exit_code = EXIT_USAGE


class InputError(BillbridgeError, ValueError):
    """Input that cannot be used: a month string, a file, a CLI value. ``row`` (1-based, as the file
    shows it), ``column`` and ``reason`` say where and why when the input is a table."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None,
                 reason: str | None = None):
        super().__init__(message)
        self.row = row
        self.column = column
        self.reason = reason or message


class ConfigError(BillbridgeError, ValueError):
    """Configuration that cannot work (a missing key, a site URL without a scheme)."""


class NotFoundError(BillbridgeError, LookupError):
    """A thing the operator named is not there (no such run, no plan for the month, no snapshot)."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class ConservationError(BillbridgeError, AssertionError):
    """Vendor total != reconciled + blocked + excluded: a line was lost or counted twice (a bug)."""

    exit_code = EXIT_FAILED


class StalePlanError(BillbridgeError):
    """A push refused because its plan is out of date: ConnectWise was read again for the month, or a newer
    month was pushed, after the plan was built (billing-rules section 9, Rule 6.6). The message says the fix:
    reconcile the month again and push the new plan."""
