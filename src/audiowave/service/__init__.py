"""The multi-user service core (Ray-free): database, object storage, job queue, auth, HTTP API."""
