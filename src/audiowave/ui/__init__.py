"""The web UI: ``app`` (the Streamlit script, a client of the HTTP service) and ``views`` (what it shows)."""
