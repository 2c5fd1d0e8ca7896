"""The trigger path: fixed-point types and quantisers (`fixed`), the quantisation-aware SAL-T and its
bit-exact integer emulator, and the FPGA firmware that da4ml emits from that emulator (`firmware`,
`csim`). See docs/TRIGGER.md.

Import-light on purpose: nothing here imports torch or da4ml until a function needs it.
"""
