import json
from tests.e2e.conftest import Claude, texts, slices, TOOL_PREFIX

def test_explore_cmds(claude: Claude) -> None:
    for p in ["/memem:memem", "/memem:memem-doctor", "/memem-doctor"]:
        run = claude.run(p, check=False)
        for r in run.requests:
            print("USER>>>", texts(r, "user")[-1800:])
        print("RESULT", run.result.get("result"), run.result.get("permission_denials"))
