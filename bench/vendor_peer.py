"""The integration benchmarks' peers: the HubSpot and Magento 2 stand-ins of the tests
(tests/vendors), in their own process so their memory and CPU are not the engine's. Prints
``HUBSPOT_URL MAGENTO_URL`` on one line and serves until stdin closes.

Run: ``python -m bench.vendor_peer ORDERS CUSTOMERS``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from vendors.hubspot import HubSpot
from vendors.magento import Magento

HUBSPOT_TOKEN = "pat-bench"
MAGENTO_TOKEN = "magento-bench"


def main() -> None:
    orders, customers = int(sys.argv[1]), int(sys.argv[2])
    hubspot = HubSpot(HUBSPOT_TOKEN)
    magento = Magento(MAGENTO_TOKEN, orders=orders, customers=customers)
    print(hubspot.base_url, magento.base_url, flush=True)
    sys.stdin.read()
    hubspot.close()
    magento.close()


if __name__ == "__main__":
    main()
