"""The shared Google Sheet door: set-up, reading, consolidation and write-back through gspread.

A thin translation between a Google spreadsheet and batn's plain objects: tabs or rows become
`Submission` objects read with `batn.numbers.parse_figure`, the checks and the roll-up are
`batn.checks` / `batn.rollup` unchanged, and findings go back by replaying `batn.actions`.

gspread and google-auth are imported only by the modules that talk to Google (auth, quota,
read, write, setup, consolidate), so `import batn.gsheets` and `batn.gsheets.layout` work without
them installed.
"""
