"""The distributor network: one home for every distributor rule (docs/ODD.md §7.8).

============  =====================================================================
``agent``     one distributor: P&L, resale price (markup), stock, threat, effort,
              retaliation and exit decisions, restock
``network``   the network's weekly phases: signing, competitor lines, the demand seen,
              steering and conversion, serving from stock, invoicing, the update and
              the hand-over of an exiting distributor's accounts
``book``      each distributor's book of our lines and its outlook (keep, follow)
============  =====================================================================
"""

from sim.model.distributors.agent import Distributor, DistributorStatus
from sim.model.distributors.network import DistributorNetwork

__all__ = ["Distributor", "DistributorNetwork", "DistributorStatus"]
