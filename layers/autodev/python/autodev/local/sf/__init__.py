"""A stand-in for the Salesforce CLI (``sf``) for the local stack and the tests.

Put :data:`BIN_DIR` first on ``PATH`` (``path_with_standin``) and ``sf`` is ``bin/sf``, which runs
this package with any Python 3.11+, stdlib only. Production code never imports it; it runs the
same ``sf`` commands against it that it runs against the real CLI.

Commands answered (everything else exits 127, "command ... not found"):

``sf org login sfdx-url --sfdx-url-file F [--alias A] --json``
    Checks the URL against sfdx-core's ``AuthInfo.parseSfdxAuthUrl`` pattern
    (``INVALID_SFDX_AUTH_URL`` otherwise) and records the org under ``$HOME/.sfdx`` (no secret
    kept: a digest of the refresh token). Result: plugin-auth's redacted ``AuthFields``.
``sf apex run test --target-org O [--class-names|--tests|--test-level] --code-coverage --json``
    The org's Apex is the project in the working directory. Outcome of each test method comes
    from what it exercises (triggers its DML fires on ``new <SObject>(...)`` records, classes it
    calls, transitively) and the defects the stand-in can see there:

    - a string method called on a record field never null-checked (``acc.Industry.equals(..)``)
      while the test creates such a record without that field or with a null in it:
      ``System.NullPointerException`` (inside a trigger: the DML's ``System.DmlException``
      caused by it, as the platform reports it);
    - a SOQL query (or DML statement) inside a loop while the test builds more than 100 (150)
      records in a loop: ``System.LimitException: Too many SOQL queries: 101``;
    - ``System.assert(false...)`` in the test: ``System.AssertException: Assertion Failed``.

    Coverage: every executable line of the code a test exercised counts as covered. Exit status
    and envelope ``status`` are 100 when a test fails (plugin-apex testReporter.ts).
``sf project deploy validate --source-dir D --target-org O [--test-level L] [--tests T] --json``
    Component errors the Metadata API would give: a missing or malformed ``-meta.xml``
    (``Error parsing file: ...`` with line/column), a wrong root element, no ``apiVersion``,
    unbalanced braces (``Unexpected token '}'.``, ``Missing '}' at '<EOF>'``), a class or
    trigger whose name is not its file's. Without component errors it runs the tests of the
    test level (RunLocalTests by default) as above and requires 75% coverage. Success: the
    ``DeployResultJson`` (``MetadataApiDeployStatus`` + ``files``); failure: the
    ``FailedValidationError`` with ``data.deployId`` and the message validate.ts builds.
    Every validation (job id ``0Af...``) is recorded with its expiry.
``sf project deploy quick --job-id J --target-org O --json``
    Deploys a recorded, succeeded, not yet deployed, unexpired validation of the same org,
    running no tests (``numberTestsTotal`` 0, ``files`` empty); anything else is refused with
    ``CannotQuickDeployError`` (exit 1), the name quick.ts gives the Metadata API's
    ``INVALID_ID_FIELD``.

State: orgs under ``$HOME/.sfdx`` (so the caller's config directory is honoured); validations in
the directory ``$AUTODEV_SF_STANDIN_STATE`` names (required by validate and quick deploy);
validations expire after ``$AUTODEV_SF_STANDIN_VALIDATION_TTL_SECONDS`` (default 10 days, the
platform's limit).

Where the shapes come from (read in the CLI's sources and tests): envelopes from
salesforcecli/sf-plugins-core (``sfCommand.ts`` ``toSuccessJson``, ``SfCommandError.ts``) and
forcedotcom/sfdx-core (``sfError.ts`` ``toObject``, ``messages.ts`` error names); Apex test
results from salesforcecli/plugin-apex (``src/reporters/jsonReporter.ts`` ``RunResult``,
``test/testData.ts``); deploy results from salesforcecli/plugin-deploy-retrieve
(``validate.ts``, ``quick.ts``, ``deployResultFormatter.ts`` ``getJson``, ``utils/types.ts``,
``messages/deploy.metadata.*.md``) with forcedotcom/source-deploy-retrieve
(``src/client/types.ts`` ``MetadataApiDeployStatus``, ``DeployMessage``, ``RunTestResult``,
``FileResponse``); login from salesforcecli/plugin-auth (``org/login/sfdx-url.ts``,
``common.ts`` ``redactAuthFields``, ``messages/secrets-redacted.md``).
"""

from __future__ import annotations

import os
from pathlib import Path

BIN_DIR = Path(__file__).resolve().parent / "bin"


def path_with_standin(path: str | None = None) -> str:
    """``PATH`` with the stand-in's ``sf`` first."""
    rest = os.environ.get("PATH", os.defpath) if path is None else path
    return os.pathsep.join([str(BIN_DIR), rest])
