"""The fictional MSP behind the sandbox seed and the demo vendor (pure data, deterministic).

Both :mod:`billbridge.sandbox` (what ConnectWise holds) and the demo vendor source (what the vendor
bills) are generated from this one description, so the demo month reconciled against the sandbox
exercises every reconciliation action and cause on purpose, not by accident.

Vocabulary follows the design glossary: a *vendor customer* has *subscriptions*; a subscription
bills one SKU with a quantity per billing month. ``cw`` says what ConnectWise holds for the
customer (see :data:`CW_SCENARIOS`).

**The world is evergreen.** The demo covers the four billing months ending with the current one
(:func:`billbridge.clock.today`; ``BILLBRIDGE_TODAY=YYYY-MM-DD`` pins it), so the app opens on a
month the demo has, on any day. :func:`world` builds it for a given day:

* dates inside the demo window (brand-new customers, mid-month starts, the one-time charge, the
  cancellation refund, the person's edit, the cancelled agreement) are written relative to the
  current month (``M(-1, 29)`` = the 29th of last month, clamped to the month's last day);
* dates long before the window (accounts created years ago) keep their month and day, so the
  billing-day anchors 29, 30, 31 and the leap day survive; they move by whole leap cycles (4 years)
  as the window moves, and never into the window.

The world is a function of the current *month* only, so it stays the same all month (the sandbox
reseeds when the window moves, see :mod:`billbridge.sandbox.seed`). Module attributes
``MONTHS``, ``CUSTOMERS``, ``CUSTOMERS_BY_ID``, ``CREDITS`` are that of today's world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from billbridge import clock
from billbridge.bdom import add_months, days_in_month, month_key, parse_billing_month

VENDOR = "demo"
VENDOR_NAME = "Demo Cloud"
#: identifier of the full-rights API member in the sandbox (the one billbridge writes as)
API_MEMBER = "BillbridgeAPI"
#: identifier of the people who edit ConnectWise by hand in the seed data
PEOPLE = ("jsmith", "mgarcia")
#: how many billing months the demo vendor has history for (the last one is the current month)
WINDOW = 4
#: the current month the dates below are written for (a window ending here reproduces them exactly)
REFERENCE_MONTH = "2026-11"
#: ConnectWise custom field (agreement additions) that carries billbridge's stable line key
LINE_KEY_FIELD = "BillbridgeKey"
LINE_KEY_FIELD_ID = 7


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    charge_type: str  # recurring | usage | one_time | credit
    term: str  # monthly | annual | triennial | none
    billing_frequency: str  # monthly | annual
    unit_cost: Decimal
    unit_price: Decimal
    in_catalog: bool = True  # False: no ConnectWise catalog item has this identifier
    catalog_active: bool = True  # False: the catalog item exists but is inactive


PRODUCTS: tuple[Product, ...] = (
    Product("HPBX-SEAT", "Hosted PBX seat", "recurring", "monthly", "monthly", Decimal("18.00"), Decimal("25.00")),
    Product("EXCH-MBX", "Hosted Exchange mailbox", "recurring", "monthly", "monthly", Decimal("4.50"), Decimal("7.00")),
    Product("SEC-AWARE", "Security awareness training user", "recurring", "monthly", "monthly", Decimal("2.00"), Decimal("4.00")),
    Product("M365-BP-ANN", "Microsoft 365 Business Premium (annual term, billed monthly)", "recurring", "annual", "monthly", Decimal("22.00"), Decimal("26.40")),
    Product("M365-BP-MON", "Microsoft 365 Business Premium (monthly term)", "recurring", "monthly", "monthly", Decimal("26.40"), Decimal("30.00")),
    Product("VOICE-MIN", "Outbound voice minutes", "usage", "none", "monthly", Decimal("0.0120"), Decimal("0.0200")),
    Product("ARCHIVE", "E-mail archiving mailbox", "recurring", "monthly", "monthly", Decimal("3.00"), Decimal("5.00")),
    Product("PHONE-SETUP", "Phone onboarding (one-time)", "one_time", "none", "monthly", Decimal("49.00"), Decimal("99.00")),
    Product("FAX-LINE", "Cloud fax line", "recurring", "monthly", "monthly", Decimal("6.00"), Decimal("10.00"), in_catalog=False),
    Product("SMS-PACK", "SMS bundle (500 messages)", "recurring", "monthly", "monthly", Decimal("8.00"), Decimal("12.00"), catalog_active=False),
)
PRODUCTS_BY_SKU = {p.sku: p for p in PRODUCTS}


@dataclass(frozen=True)
class Subscription:
    sub_id: str
    sku: str
    #: quantity billed in each month of the window, oldest first (0 = not billed that month)
    quantities: tuple[int, int, int, int]
    #: the day the subscription started (mid-period additions are prorated from here); None: long
    #: ago, with the account (ConnectWise's addition then starts on the account's creation day)
    start: date | None = None


#: What ConnectWise holds for a customer. The sandbox seed builds exactly this:
#: - ``synced``: company + recurring agreement "<VENDOR_NAME> Services" whose additions mirror the
#:   quantities of the month before the current one, written by billbridge (line key set, updatedBy = API_MEMBER)
#: - ``manual``: as synced, but the additions were typed in by a person long ago (no line key)
#: - ``person_edited``: as synced, but a person changed one addition's quantity after billbridge wrote it
#: - ``ambiguous``: as synced, plus a second active addition for the same product
#: - ``agreement_cancelled`` / ``agreement_expired``: the vendor agreement is cancelled / past its end date
#: - ``no_agreement``: the company exists, but has no agreement for this vendor
#: - ``child_agreement``: the vendor agreement is a child of a parent "Master Services" agreement
#: - ``no_company``: ConnectWise has no company for this customer (brand-new customer)
#: - ``prospect``: the company exists only as a prospect (never suggested silently)
CW_SCENARIOS = (
    "synced", "manual", "person_edited", "ambiguous", "agreement_cancelled", "agreement_expired",
    "no_agreement", "child_agreement", "no_company", "prospect",
)


@dataclass(frozen=True)
class Customer:
    vendor_id: str
    vendor_name: str  # as the vendor spells it
    created: date  # account creation day = BDOM anchor
    cw: str  # one of CW_SCENARIOS
    company_name: str | None  # ConnectWise spelling (None: no company)
    company_identifier: str | None
    #: True: ConnectWise company.accountNumber == vendor_id (the best match)
    account_number_matches: bool
    prorate: bool = False  # the vendor agreement has "Prorate Agreement" ticked
    subscriptions: tuple[Subscription, ...] = field(default_factory=tuple)


def _s(sub_id: str, sku: str, q: tuple[int, int, int, int], start: date | None = None) -> Subscription:
    return Subscription(sub_id, sku, q, start)


def months(today: date | None = None) -> tuple[str, ...]:
    """The demo window: the :data:`WINDOW` billing months ending with ``today``'s (oldest first)."""
    cur = month_key(today or clock.today())
    return tuple(add_months(cur, k) for k in range(1 - WINDOW, 1))


def _month_date(month: str, day: int) -> date:
    y, m = parse_billing_month(month)
    return date(y, m, min(day, days_in_month(y, m)))


def _dated(current_month: str):
    """``(M, Y)`` for a world whose current month is ``current_month`` (see the module docstring)."""
    y, m = parse_billing_month(current_month)
    ry, rm = parse_billing_month(REFERENCE_MONTH)
    years = ((y * 12 + m) - (ry * 12 + rm)) // 48 * 4  # whole leap cycles, rounded towards the past

    def M(offset: int, day: int) -> date:  # noqa: N802 - reads like the dates it stands for
        return _month_date(add_months(current_month, offset), day)

    def Y(year: int, month: int, day: int) -> date:  # noqa: N802
        yy = year + years
        return date(yy, month, min(day, days_in_month(yy, month)))

    return M, Y


def _customers(M, Y) -> tuple[Customer, ...]:  # noqa: N803
    return (
        # Intermedia's own example: created 4 Aug, BDOM the 4th. Matches by account number.
        Customer("DC-10001", "Acme Dental Group", Y(2024, 8, 4), "synced", "Acme Dental Group", "AcmeDental", True,
                 subscriptions=(_s("S-1001", "HPBX-SEAT", (12, 12, 12, 14)), _s("S-1002", "EXCH-MBX", (15, 15, 15, 15)))),
        # BDOM 31; a near-duplicate company sits in the recycle bin.
        Customer("DC-10002", "Bluebird Logistics Inc.", Y(2023, 1, 31), "synced", "Bluebird Logistics", "BluebirdLog", True, prorate=True,
                 subscriptions=(_s("S-1003", "HPBX-SEAT", (30, 30, 31, 31)), _s("S-1004", "SEC-AWARE", (45, 45, 45, 47)))),
        # BDOM 30; matches only by a similar name; additions typed in by a person (no line key).
        Customer("DC-10003", "Cedar & Pine Law, LLP", Y(2025, 5, 30), "manual", "Cedar and Pine Law", "CedarPine", False,
                 subscriptions=(_s("S-1005", "EXCH-MBX", (8, 8, 8, 9)), _s("S-1006", "ARCHIVE", (8, 8, 8, 9)))),
        # leap-day BDOM 29; normalised-name match ("Inc." suffix, comma).
        Customer("DC-10004", "Delta Veterinary Clinic", Y(2024, 2, 29), "synced", "Delta Veterinary Clinic, Inc.", "DeltaVet", False,
                 subscriptions=(_s("S-1007", "HPBX-SEAT", (6, 6, 6, 6)), _s("S-1008", "M365-BP-MON", (6, 6, 6, 7)))),
        # brand-new customer created in the last days of a month (late-month risk), no company yet.
        Customer("DC-10005", "Evergreen Family Practice", M(-1, 29), "no_company", None, None, False,
                 subscriptions=(_s("S-1009", "HPBX-SEAT", (0, 0, 0, 9), M(-1, 29)), _s("S-1010", "PHONE-SETUP", (0, 0, 0, 1), M(-1, 29)))),
        # a person changed the quantity in ConnectWise after billbridge wrote it.
        Customer("DC-10006", "Foxtrot Engineering", Y(2022, 6, 15), "person_edited", "Foxtrot Engineering", "FoxtrotEng", True,
                 subscriptions=(_s("S-1011", "HPBX-SEAT", (20, 20, 20, 21)), _s("S-1012", "EXCH-MBX", (22, 22, 22, 22)))),
        # two active additions for one product.
        Customer("DC-10007", "Granite Peak Realty", Y(2023, 3, 9), "ambiguous", "Granite Peak Realty", "GranitePeak", True,
                 subscriptions=(_s("S-1013", "M365-BP-MON", (10, 10, 10, 11)),)),
        Customer("DC-10008", "Harbor View Hotel", Y(2021, 11, 2), "agreement_cancelled", "Harbor View Hotel", "HarborView", True,
                 subscriptions=(_s("S-1014", "HPBX-SEAT", (40, 40, 40, 40)),)),
        Customer("DC-10009", "Ironwood Manufacturing", Y(2022, 9, 12), "agreement_expired", "Ironwood Manufacturing", "Ironwood", True,
                 subscriptions=(_s("S-1015", "EXCH-MBX", (55, 55, 55, 54)),)),
        Customer("DC-10010", "Juniper Accounting", Y(2024, 4, 18), "no_agreement", "Juniper Accounting", "JuniperAcct", True,
                 subscriptions=(_s("S-1016", "SEC-AWARE", (0, 12, 12, 12), M(-2, 3)),)),
        Customer("DC-10011", "Kestrel Aviation Services", Y(2023, 7, 21), "child_agreement", "Kestrel Aviation Services", "KestrelAv", True,
                 subscriptions=(_s("S-1017", "HPBX-SEAT", (25, 25, 25, 25)), _s("S-1018", "VOICE-MIN", (4120, 3980, 4410, 4675)))),
        # the vendor stopped billing a subscription this month (cancel).
        Customer("DC-10012", "Lakeside Pediatrics", Y(2024, 1, 8), "synced", "Lakeside Pediatrics", "LakesidePeds", True,
                 subscriptions=(_s("S-1019", "HPBX-SEAT", (9, 9, 9, 9)), _s("S-1020", "ARCHIVE", (9, 9, 9, 0)))),
        # mid-period addition on a prorated agreement (effective the 17th of this month).
        Customer("DC-10013", "Maple Street Bakery", Y(2025, 12, 1), "synced", "Maple Street Bakery", "MapleBakery", True, prorate=True,
                 subscriptions=(_s("S-1021", "EXCH-MBX", (4, 4, 4, 4)), _s("S-1022", "HPBX-SEAT", (0, 0, 0, 3), M(0, 17)))),
        # usage product billed in arrears.
        Customer("DC-10014", "Northwind Traders", Y(2020, 10, 5), "synced", "Northwind Traders", "Northwind", True,
                 subscriptions=(_s("S-1023", "HPBX-SEAT", (50, 50, 50, 50)), _s("S-1024", "VOICE-MIN", (10230, 9870, 11040, 12385)))),
        # annual-term product whose quantity drops (often not refundable: alert).
        Customer("DC-10015", "Orchid Spa & Wellness", Y(2025, 3, 14), "synced", "Orchid Spa & Wellness", "OrchidSpa", True,
                 subscriptions=(_s("S-1025", "M365-BP-ANN", (18, 18, 18, 16), Y(2025, 3, 14)),)),
        Customer("DC-10016", "Pioneer Credit Union", Y(2019, 5, 27), "synced", "Pioneer Credit Union", "PioneerCU", True,
                 subscriptions=(_s("S-1026", "M365-BP-ANN", (60, 60, 60, 60), Y(2025, 5, 27)), _s("S-1027", "SEC-AWARE", (62, 62, 64, 64)))),
        # new customer whose name only resembles an unrelated company (fuzzy, below threshold).
        Customer("DC-10017", "Quartz Analytics", M(-2, 10), "no_company", None, None, False,
                 subscriptions=(_s("S-1028", "M365-BP-MON", (0, 5, 5, 6), M(-2, 10)),)),
        Customer("DC-10018", "Redwood Senior Living", M(-3, 24), "prospect", "Redwood Senior Living", "RedwoodSL", False,
                 subscriptions=(_s("S-1029", "HPBX-SEAT", (0, 14, 14, 14), M(-3, 24)),)),
        # a SKU that has no ConnectWise catalog item (unmapped product).
        Customer("DC-10019", "Summit Orthodontics", Y(2024, 12, 19), "synced", "Summit Orthodontics", "SummitOrtho", True,
                 subscriptions=(_s("S-1030", "HPBX-SEAT", (7, 7, 7, 7)), _s("S-1031", "FAX-LINE", (0, 0, 2, 2), M(-1, 6)))),
        # BDOM 31 account created on the last day of a month; quantity increase.
        Customer("DC-10020", "Tidewater Marine Supply", M(-3, 31), "synced", "Tidewater Marine Supply", "Tidewater", True,
                 subscriptions=(_s("S-1032", "HPBX-SEAT", (0, 5, 5, 8), M(-3, 31)),)),
        Customer("DC-10021", "Union Square Dental", Y(2023, 2, 28), "synced", "Union Square Dental", "UnionSqDental", True,
                 subscriptions=(_s("S-1033", "HPBX-SEAT", (11, 11, 11, 11)), _s("S-1034", "EXCH-MBX", (13, 13, 13, 13)))),
        Customer("DC-10022", "Vantage Point Consulting", Y(2022, 4, 11), "synced", "Vantage Point Consulting", "VantagePt", True,
                 subscriptions=(_s("S-1035", "M365-BP-MON", (16, 16, 16, 16)), _s("S-1036", "SEC-AWARE", (16, 16, 16, 16)))),
        Customer("DC-10023", "Willow Creek Vineyards", Y(2021, 7, 30), "synced", "Willow Creek Vineyards", "WillowCreek", True,
                 subscriptions=(_s("S-1037", "EXCH-MBX", (7, 7, 7, 7)),)),
        # one-time charge this month.
        Customer("DC-10024", "Xenon Labs", Y(2024, 10, 16), "synced", "Xenon Labs", "XenonLabs", True,
                 subscriptions=(_s("S-1038", "HPBX-SEAT", (15, 15, 15, 18)), _s("S-1039", "PHONE-SETUP", (0, 0, 0, 3), M(0, 2)))),
        # a catalog item that is inactive in ConnectWise (the push fails with a field error).
        Customer("DC-10025", "Zephyr Architecture", Y(2025, 8, 6), "synced", "Zephyr Architecture", "ZephyrArch", True,
                 subscriptions=(_s("S-1040", "EXCH-MBX", (9, 9, 9, 9)), _s("S-1041", "SMS-PACK", (0, 0, 0, 2), M(0, 9)))),
    )


#: A refund the vendor issues in the current month for a cancellation (Rule 6.5): matched to the
#: original line. (vendor customer id, subscription id, sku, quantity, unit amount (negative))
_CREDITS: tuple[tuple[str, str, str, int, Decimal], ...] = (
    ("DC-10012", "S-1020", "ARCHIVE", -9, Decimal("-1.50")),
)


@dataclass(frozen=True)
class World:
    """The demo world as of one current month (see :func:`world`)."""

    months: tuple[str, ...]  # the demo window, oldest first; the last one is the current month
    customers: tuple[Customer, ...]
    credits: tuple[tuple[str, str, str, int, Decimal], ...]
    #: (vendor customer id, subscription id) -> the day the subscription was cancelled (its refund
    #: runs from here to the end of the vendor period; see billbridge.sources.demo)
    cancelled_on: dict[tuple[str, str], date]
    #: when billbridge last wrote the seeded additions (the 2nd of last month)
    billbridge_wrote: date
    #: when a person edited an addition billbridge wrote (the 20th of last month)
    person_edited: date
    #: the vendor agreement of the ``agreement_cancelled`` customer was cancelled on this day
    agreement_cancelled: date
    #: the vendor agreement of the ``agreement_expired`` customer ended on this day
    agreement_expired: date
    #: the ConnectWise agreement-invoice months the seed holds (last month: all, this month: three)
    invoice_months: tuple[str, str]
    M: Any = field(repr=False, compare=False, default=None)  # month-relative dates of this world
    Y: Any = field(repr=False, compare=False, default=None)  # long-ago dates of this world

    @property
    def current_month(self) -> str:
        return self.months[-1]

    @property
    def customers_by_id(self) -> dict[str, Customer]:
        return {c.vendor_id: c for c in self.customers}

    def covers(self, month: str) -> bool:
        return month in self.months

    def quantity(self, sub: Subscription, month: str) -> int:
        """The quantity ``sub`` bills in ``month`` (a month of the window); 0 when not billed."""
        return sub.quantities[self.months.index(month)]


@lru_cache(maxsize=16)
def _world(current_month: str) -> World:
    M, Y = _dated(current_month)
    return World(
        months=tuple(add_months(current_month, k) for k in range(1 - WINDOW, 1)),
        customers=_customers(M, Y), credits=_CREDITS,
        cancelled_on={("DC-10012", "S-1020"): M(-1, 24)},
        billbridge_wrote=M(-1, 2), person_edited=M(-1, 20),
        agreement_cancelled=M(-2, 31), agreement_expired=M(-5, 31),
        invoice_months=(add_months(current_month, -1), current_month), M=M, Y=Y)


def world(today: date | None = None) -> World:
    """The demo world whose current month is ``today``'s (default :func:`billbridge.clock.today`)."""
    return _world(month_key(today or clock.today()))


def quantity(sub: Subscription, month: str) -> int:
    """The quantity ``sub`` bills in ``month`` of today's window; 0 when not billed."""
    return world().quantity(sub, month)


def __getattr__(name: str) -> Any:
    """``MONTHS``, ``CUSTOMERS``, ``CUSTOMERS_BY_ID`` and ``CREDITS`` of today's world (computed on each
    access, so a long-running app follows the calendar)."""
    if name == "MONTHS":
        return world().months
    if name == "CUSTOMERS":
        return world().customers
    if name == "CUSTOMERS_BY_ID":
        return world().customers_by_id
    if name == "CREDITS":
        return world().credits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Companies in ConnectWise that the demo vendor does not bill (filler, traps and lookalikes).
#: (name, identifier, kind) where kind is one of: client, prospect, deleted, not_approved, vendor, owner
OTHER_COMPANIES: tuple[tuple[str, str, str], ...] = (
    ("Blue Bird Logistics", "BlueBirdLogi", "deleted"),  # recycle-bin near-duplicate of Bluebird Logistics
    ("Quartz Analytic Partners", "QuartzAP", "client"),  # lookalike of a brand-new vendor customer
    ("Acme Dental Group - Eastside", "AcmeDentalE", "client"),  # near-duplicate name, a different customer
    ("Foxtrot Engineering Services", "FoxtrotSvc", "prospect"),
    ("Harborview Holdings", "HarborHold", "not_approved"),
    ("Demo Cloud Inc.", "DemoCloud", "vendor"),
    ("Our MSP", "OurMSP", "owner"),
    ("Alder Creek Dentistry", "AlderCreek", "client"),
    ("Aspen Ridge Insurance", "AspenRidge", "client"),
    ("Beacon Hill Architects", "BeaconHill", "client"),
    ("Birchwood Property Management", "BirchwoodPM", "client"),
    ("Canyon Freight Lines", "CanyonFreight", "client"),
    ("Cobalt Fitness Studios", "CobaltFit", "client"),
    ("Copperline Electric", "Copperline", "client"),
    ("Driftwood Marina", "Driftwood", "client"),
    ("Eastgate Chiropractic", "Eastgate", "client"),
    ("Elm Street Montessori", "ElmStreet", "client"),
    ("Fairview Auto Group", "FairviewAuto", "client"),
    ("Falcon Ridge Golf Club", "FalconRidge", "client"),
    ("Glacier Bay Outfitters", "GlacierBay", "client"),
    ("Golden Gate Title Co.", "GoldenGate", "client"),
    ("Hawthorne Physical Therapy", "HawthornePT", "client"),
    ("Highland Craft Brewery", "HighlandBrew", "client"),
    ("Indigo Interiors", "IndigoInt", "prospect"),
    ("Jasper Valley Farms", "JasperValley", "client"),
    ("Keystone Tax Advisors", "KeystoneTax", "client"),
    ("Lighthouse Church", "Lighthouse", "client"),
    ("Magnolia Event Center", "Magnolia", "client"),
    ("Meridian Wealth Partners", "MeridianWP", "client"),
    ("Nova Robotics", "NovaRobotics", "prospect"),
    ("Oakmont Veterinary Hospital", "OakmontVet", "client"),
    ("Paramount Staffing", "Paramount", "client"),
    ("Pinecrest Academy", "Pinecrest", "client"),
    ("Quail Run Apartments", "QuailRun", "client"),
    ("Riverbend Orthopedics", "Riverbend", "client"),
    ("Sagebrush Logistics", "Sagebrush", "client"),
    ("Sterling Custom Homes", "SterlingCH", "client"),
    ("Sunrise Bakery & Cafe", "SunriseBake", "client"),
    ("Thornton & Associates", "Thornton", "client"),
    ("Trailhead Outdoor Supply", "Trailhead", "client"),
    ("Upland Water District", "UplandWater", "client"),
    ("Valley Medical Imaging", "ValleyMed", "client"),
    ("Westbrook Insurance Agency", "Westbrook", "client"),
    ("Yardley Print Shop", "YardleyPrint", "prospect"),
)
