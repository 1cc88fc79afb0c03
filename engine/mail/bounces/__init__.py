"""Mail that comes back: bounces, complaints, auto-replies and delivery notices, read from
mail (``classify``) or from provider notifications (``providers``), and what sluis does about
them (``ingest``). DESIGN.md section 15 is the contract."""
