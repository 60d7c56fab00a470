"""The two lists: create, read, list, edit and move achievements and needs through their lifecycle.

Achievements and needs share everything but their fields, so one set of functions serves both,
driven by a ListingSpec (`spec`). Every write records its audit row and its outbox event in the same
transaction; the worker then updates the search index and the leads. Here: the API the routes call.
"""

from services.listings.queries import ListingCriteria, ListingFilters, get, list_page
from services.listings.review import review_many, transition
from services.listings.rules import readable
from services.listings.spec import ACHIEVEMENTS, NEEDS, SPECS, ListingSpec
from services.listings.writes import create, delete, update

__all__ = ["ACHIEVEMENTS", "NEEDS", "SPECS", "ListingCriteria", "ListingFilters", "ListingSpec", "create", "delete",
           "get", "list_page", "readable", "review_many", "transition", "update"]
