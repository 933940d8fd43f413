#!/usr/bin/env bash
# Regenerates the README's screenshots (docs/screenshot.png: search results with SID paths and an
# explanation; docs/model-page.png: the model page's charts) by running the browser test that takes
# them against a tiny two-stage model trained on the test sample (made-up words), in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-chromium.sh
ensure_test_chromium
mkdir -p docs
GENSEARCH_SCREENSHOTS="$PWD/docs" dotnet test tests/GenSearch.Web.Tests -c Release --nologo -v quiet \
  --filter "FullyQualifiedName~AGenerativeModelShowsSidPathsAndItsTrainingCharts"
ls -l docs/screenshot.png docs/model-page.png
