"""The Audiowave web UI (Streamlit), a client of the HTTP service through the SDK.

Run by ``audiowave ui`` (``streamlit run`` of this file); the service URL comes from ``AUDIOWAVE_URL``.
Sign in with an API key; upload (drag and drop); watch the job's stage and percent; read the result
(pictures, facts, stems, instruments, techniques with evidence, samples with proof players, recipes with
previews and Vital presets), send feedback on each field, download the report, delete jobs; export, opt in
to contributing, or erase the account.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from audiowave.api_models import AccountView, JobView
from audiowave.client import ApiError, Client, Request
from audiowave.pipeline import STAGES
from audiowave.ui.views import facts_rows, feedback_targets, recipes_of, stem_links

AUDIO_TYPES = ["wav", "flac", "mp3", "ogg", "m4a", "aac", "aif", "aiff"]
POLL_S = 0.5
HISTORY_PAGE = 10


def connect(api_key: str) -> Client:
    return Client(os.environ.get("AUDIOWAVE_URL", "http://127.0.0.1:8000"), api_key, timeout=120)


def client() -> Client | None:
    key = st.session_state.get("api_key", "")
    return connect(key) if key else None


@st.cache_data(max_entries=256, show_spinner=False)
def fetch(link: str, api_key: str) -> bytes:
    """A job's file; cached, because a job's files never change and every rerun would fetch them again
    (against the per-key rate limit)."""
    with connect(api_key) as aw:
        return aw.download(link)


def download(link: str) -> bytes:
    return fetch(link, st.session_state["api_key"])


@st.cache_data(max_entries=64, show_spinner=False)
def finished_job(job_id: str, api_key: str) -> JobView:
    """A finished job (final states never change, so it is fetched once)."""
    with connect(api_key) as aw:
        return aw.job(job_id)


@st.cache_data(ttl=30, show_spinner=False)
def report_html(job_id: str, api_key: str) -> str:
    with connect(api_key) as aw:
        return aw.report(job_id)


@st.cache_data(ttl=30, show_spinner=False)
def account_of(api_key: str) -> AccountView:
    with connect(api_key) as aw:
        return aw.account()


def sign_in() -> None:
    with st.sidebar:
        st.header("Audiowave")
        key = st.text_input("API key", type="password", value=st.session_state.get("api_key", ""))
        if st.button("Sign in"):
            try:
                connect(key).jobs()
                st.session_state["api_key"] = key
                st.success("signed in")
            except ApiError as exc:
                st.session_state.pop("api_key", None)
                st.error(f"sign-in refused: {exc.reason}")


def wait_with_progress(aw: Client, job: JobView) -> JobView:
    bar = st.progress(0.0, text=f"{job.status}: {job.stage or 'queued'}")
    while not job.finished:
        time.sleep(POLL_S)
        job = aw.job(job.job_id)
        bar.progress(min(job.percent / 100, 1.0), text=f"{job.status}: {job.stage} ({job.percent:.0f} %)")
    bar.empty()
    return job


def upload_view(aw: Client) -> None:
    st.subheader("Analyse a track")
    upload = st.file_uploader("Drop an audio file", type=AUDIO_TYPES)
    stages = st.multiselect("Stages (empty = all)", list(STAGES), default=[])
    if st.button("Analyze", disabled=upload is None):
        try:
            job = aw.analyze((upload.name, upload.getvalue()), stages=",".join(stages))
        except ApiError as exc:
            st.error(f"upload refused: {exc.reason}")
            return
        account_of.clear()  # its job count changed
        job = wait_with_progress(aw, job)
        if job.status != "done":
            st.error(f"analysis {job.status}: {job.error}")
            return
        st.session_state["job_id"] = job.job_id


def feedback_row(aw: Client, job_id: str, field: str, label: str) -> None:
    cols = st.columns([6, 1, 1])
    cols[0].write(label)
    for col, verdict, text in ((cols[1], "correct", "right"), (cols[2], "wrong", "wrong")):
        if col.button(text, key=f"fb-{verdict}-{field}"):
            aw.feedback(job_id, field, verdict)
            st.toast(f"thanks: {label} marked {verdict}")


def recipe_view(aw: Client, analysis: JobView) -> None:
    st.subheader("Recipes")
    stems = ["(mix)", *stem_links(analysis)]
    with st.form("recipe"):
        stem = st.selectbox("Sound from", stems)
        start = st.number_input("start (s)", min_value=0.0, value=0.0, step=0.1)
        end = st.number_input("end (s)", min_value=0.1, value=1.0, step=0.1)
        if st.form_submit_button("Make a recipe"):
            try:
                job = aw.suggest(
                    job_id=analysis.job_id, stem="" if stem == "(mix)" else stem, start_s=start, end_s=end, budget_s=8
                )
                job = wait_with_progress(aw, job)
                if job.status != "done":
                    st.error(f"recipe {job.status}: {job.error}")
            except ApiError as exc:
                st.error(f"recipe refused: {exc.reason}")
    for job in recipes_of(aw.jobs(limit=500, kind="recipe"), analysis.job_id):
        if job.status != "done":
            continue
        recipe = finished_job(job.job_id, st.session_state["api_key"]).recipe()
        with st.expander(
            f"{recipe.patch.source} recipe {recipe.span.start_s:.2f}-{recipe.span.end_s:.2f} s "
            f"(similarity {recipe.refined.similarity:.2f})",
            expanded=True,
        ):
            for i, step in enumerate(recipe.steps, start=1):
                st.write(f"{i}. {step}")
            st.audio(download(job.links["preview.flac"]), format="audio/flac")
            st.image(download(job.links["comparison.png"]))
            if "recipe.vital" in job.links:
                st.download_button(
                    "Vital preset", download(job.links["recipe.vital"]), "recipe.vital", key=f"vital-{job.job_id}"
                )
            feedback_row(aw, job.job_id, "recipe", "rate this recipe (right = it sounds right)")


def result_view(aw: Client, job_id: str) -> None:
    job = finished_job(job_id, st.session_state["api_key"])
    r = job.analysis()
    st.header(job.filename)
    for name in ("spectrogram.png", "waveform.png"):
        if name in job.links:
            st.image(download(job.links[name]), caption=name)
    st.table({"": [k for k, _ in facts_rows(r)], "value": [v for _, v in facts_rows(r)]})
    if r.instruments:
        st.subheader("Instruments")
        st.table([{"instrument": i.label, "in": i.source, "confidence": round(i.confidence, 2)} for i in r.instruments])
    for name, link in stem_links(job).items():
        st.caption(f"stem: {name}")
        st.audio(download(link), format="audio/flac")
    if r.forensics:
        st.subheader("Techniques")
        for t in r.forensics.techniques:
            if t.detected and t.effect not in ("stereo", "tuning"):
                st.write(f"**{t.effect}** in {t.source} ({t.confidence:.2f}): {t.description}")
                if t.evidence and t.evidence in job.links:
                    st.image(download(job.links[t.evidence]))
    if r.samples and r.samples.matches:
        st.subheader("Samples")
        for m in r.samples.matches:
            st.write(
                f"**{m.name}** ({m.pack}) at {', '.join(f'{o.start_s:.2f}' for o in m.occurrences[:6])} s, "
                f"pitch {m.pitch_semitones:+d} st, confidence {m.confidence:.2f}"
            )
            if m.proof:
                for path in (m.proof.track_audio, m.proof.sample_audio):
                    if path in job.links:
                        st.audio(download(job.links[path]), format="audio/flac")
    st.subheader("Feedback")
    for target in feedback_targets(r):
        feedback_row(aw, job_id, target.field, target.label)
    recipe_view(aw, job)
    st.download_button(
        "Download report (HTML)", report_html(job_id, st.session_state["api_key"]), f"{job.filename}.report.html"
    )
    if st.button("Delete this job"):
        aw.delete(job_id)
        account_of.clear()
        st.session_state.pop("job_id", None)
        st.success("deleted")


def history_view(aw: Client) -> None:
    st.subheader("History")
    page = st.session_state.get("history_page", 0)
    shown = aw.jobs(limit=HISTORY_PAGE + 1, offset=page * HISTORY_PAGE, kind="analysis")
    for job in shown[:HISTORY_PAGE]:
        cols = st.columns([5, 2, 1])
        cols[0].write(f"{job.filename} — {job.created_at[:19]}")
        cols[1].write(job.status)
        if job.status == "done" and cols[2].button("open", key=f"open-{job.job_id}"):
            st.session_state["job_id"] = job.job_id
    newer, label, older = st.columns([1, 4, 1])
    if page and newer.button("newer"):
        st.session_state["history_page"] = page - 1
        st.rerun()
    label.caption(f"page {page + 1}")
    if len(shown) > HISTORY_PAGE and older.button("older"):
        st.session_state["history_page"] = page + 1
        st.rerun()


def account_view(aw: Client) -> None:
    """Your data: opt-in to shared libraries, export of everything stored, erasure of the account."""
    with st.sidebar:
        st.subheader("Your data")
        account = account_of(st.session_state["api_key"])
        jobs = f"{account.jobs} job" + ("s" if account.jobs != 1 else "")
        st.caption(f"{account.name}: {jobs}; uploads and results are encrypted at rest")
        wanted = st.checkbox(
            "Contribute my future uploads to shared sample libraries", value=account.contribute_to_library
        )
        if wanted != account.contribute_to_library:
            aw.set_consent(wanted)
            account_of.clear()
            st.rerun()
        if st.button("Prepare my data export"):
            try:
                st.session_state["export"] = aw.send(Request("GET", "/v1/users/me/export")).content
            except ApiError as exc:
                st.error(f"export failed: {exc.reason}")
        if export := st.session_state.get("export"):
            st.download_button("Download export (zip)", export, f"audiowave-{account.name}.zip", "application/zip")
        confirm = st.text_input("Type your user name to erase your account and all its data")
        if st.button("Erase my account", disabled=confirm != account.name):
            erased = aw.erase_account(confirm)
            for key in ("api_key", "job_id", "export"):
                st.session_state.pop(key, None)
            st.session_state["erased"] = f"account erased: {erased.jobs} jobs, {erased.objects_removed} files"
            st.rerun()


def main() -> None:
    st.set_page_config(page_title="Audiowave", layout="wide")
    sign_in()
    aw = client()
    if aw is None:
        if note := st.session_state.pop("erased", ""):
            st.success(note)
        st.info("Sign in with your API key (audiowave serve prints one; `audiowave users create NAME` makes more).")
        return
    account_view(aw)
    upload_view(aw)
    history_view(aw)
    if job_id := st.session_state.get("job_id"):
        try:
            result_view(aw, job_id)
        except ApiError as exc:
            st.error(exc.reason)


main()
