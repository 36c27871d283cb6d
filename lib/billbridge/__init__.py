"""billbridge: make ConnectWise Manage agreements bill exactly what a vendor billed.

The library is UI-free: pages (Streamlit) and the ``billbridge`` CLI are thin front ends over it.
Pure core: :mod:`billbridge.bdom`, :mod:`billbridge.matching`, :mod:`billbridge.plan`.
I/O edges: :mod:`billbridge.connectwise`, :mod:`billbridge.store`, :mod:`billbridge.push`,
:mod:`billbridge.sources`, and the local ConnectWise emulator :mod:`billbridge.sandbox`.
"""

__version__ = "0.1.0"
