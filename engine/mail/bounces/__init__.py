"""Mail that comes back: bounces, complaints, auto-replies and delivery notices, read from
mail (``classify``) or from provider notifications (``providers``), and what sluis does about
them (``ingest``). DESIGN.md section 15 is the contract.

Modules: ``verdict`` (what a reading is, the hard rule), ``families`` and ``reasons`` (the
pattern tables), ``mailparts`` (the parts of a report), ``judge`` (reason and status of one
recipient), ``classify`` (one message), ``providers`` and ``signatures`` (provider events),
``sources`` (mailboxes), ``ingest`` and ``softcount`` (what sluis does), ``corpus`` (figures
on a corpus with known answers).
"""
