"""``audiowave serve``'s launcher on a real local Ray: an app that fails to start leaves no Ray running."""

from __future__ import annotations

import pydantic
import pytest
import ray

from audiowave.ray_apps.launch import read_serve_config, start_app

from servers import free_port

pytestmark = pytest.mark.ray


def test_an_app_that_fails_to_start_shuts_ray_down():
    # build_app validates the service settings after Ray is up: a bad one must not leave Ray behind, or the next
    # driver on this machine would join a cluster with a half-started app
    with pytest.raises(pydantic.ValidationError, match="max_pending_jobs"):
        start_app({"max_pending_jobs": "many"}, read_serve_config(), free_port(), num_gpus=1, num_cpus=2)
    assert not ray.is_initialized()
    ray.init(num_cpus=1, include_dashboard=False)  # and a fresh driver starts a cluster of its own
    try:
        assert ray.cluster_resources().get("CPU") == 1
    finally:
        ray.shutdown()
