"""Turn ``huggingface_hub`` exceptions into one-line radrbench errors that say what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub import constants
from huggingface_hub.errors import (
    CachedRepoTreeNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from radrbench.errors import ConfigError, DataError, RadrbenchError, ServerError

_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def repo_url(repo_id: str, repo_type: str) -> str:
    """The repo's page on the Hub that ``HF_ENDPOINT`` points at."""
    return f"{constants.ENDPOINT}/{_PREFIX[repo_type]}{repo_id}"


@contextmanager
def hub_errors(repo_id: str, repo_type: str, revision: str | None = None) -> Iterator[None]:
    """Re-raise what the Hub client raises inside the block as a :class:`RadrbenchError`."""
    where = f"{repo_type} {repo_id}" + (f"@{revision}" if revision else "")
    try:
        yield
    except RadrbenchError:
        raise
    except GatedRepoError:
        raise DataError(
            "this repo is gated and your account has not been granted access",
            where=where,
            hint=f"accept its licence at {repo_url(repo_id, repo_type)}, then set HF_TOKEN to a "
            "token of that account (or run 'hf auth login')",
        ) from None
    except RepositoryNotFoundError:
        raise ConfigError(
            f"no such {repo_type} repo on {constants.ENDPOINT} (or it is private)",
            where=where,
            hint="check the repo id (ORG/NAME); for a private repo set HF_TOKEN to a token "
            "with read access",
        ) from None
    except RevisionNotFoundError:
        raise ConfigError(
            f"revision {revision or 'main'!r} does not exist in this repo",
            where=where,
            hint="pass a branch, tag or full commit hash that exists (default: main)",
        ) from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, CachedRepoTreeNotFoundError):
        offline = constants.is_offline_mode()
        raise ServerError(
            "not in the local Hugging Face cache"
            + (" and HF_HUB_OFFLINE=1 forbids downloading" if offline else "")
            + ("" if offline else f", and {constants.ENDPOINT} cannot be reached"),
            where=where,
            hint="fetch it once while online; offline, set HF_HUB_OFFLINE=1 and pass a "
            "--revision that was fetched before"
            if offline
            else "check your network (or HF_ENDPOINT); to use a cached copy set "
            "HF_HUB_OFFLINE=1 and pass a --revision that was fetched before",
        ) from None
    except (httpx2.TransportError, OSError) as error:
        if isinstance(error, HfHubHTTPError):
            raise _http_error(error, where, repo_id, repo_type) from None
        if isinstance(error, httpx2.TransportError):
            raise ServerError(
                f"cannot reach {constants.ENDPOINT} ({type(error).__name__}: {error})",
                where=where,
                hint="check your network (or HF_ENDPOINT); to work from the cache set "
                "HF_HUB_OFFLINE=1 and pass a --revision that was fetched before",
            ) from None
        raise


def _http_error(error: HfHubHTTPError, where: str, repo_id: str, repo_type: str) -> RadrbenchError:
    status = error.response.status_code if error.response is not None else None
    if status in (401, 403):
        return ConfigError(
            f"the Hub refused the request ({status}): the token is missing, invalid or "
            "lacks permission",
            where=where,
            hint=f"set HF_TOKEN to a token with {'write' if status == 403 else 'the needed'} "
            f"access to {repo_url(repo_id, repo_type)}",
        )
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ServerError(
        f"the Hub answered with an error: {first_line}",
        where=where,
        hint="retry later; if it persists, check HF_ENDPOINT and the Hub's status page",
    )
