"""The dashboard's endpoints, one module each defining its `REPORT` (path, parameters, JSON and CSV answers), and
what several share: the queries, the sources a report reads (the engine's counts and Rocket.Chat's rooms, as
protocols), the windows of days, the daily shape, the rooms shown, remembered answers, CSV. No database code."""
