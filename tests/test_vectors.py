import numpy as np

from memem.storage.vectors import Table


def test_nearest_gives_the_k_highest_cosines_among_the_memories_in_scope() -> None:
    rng = np.random.default_rng(3)
    n = 300
    made = rng.standard_normal((n, 8)).astype(np.float32)
    made /= np.linalg.norm(made, axis=1, keepdims=True)
    projects = ["alpha" if i % 3 else "beta" for i in range(n)]
    layers = [i % 4 for i in range(n)]
    active = [i % 7 != 0 for i in range(n)]
    table = Table(
        [f"m{i}" for i in range(n)], [f"h{i}" for i in range(n)], projects, layers, active, 8
    )
    table.fill({f"h{i}": made[i] for i in range(n) if i % 11})  # some still without a vector
    query = made[5]

    found = table.nearest(query, projects=["alpha"], max_layer=2, include_deprecated=False, k=10)

    in_scope = [
        i for i in range(n) if i % 11 and projects[i] == "alpha" and layers[i] <= 2 and active[i]
    ]
    expected = sorted(in_scope, key=lambda i: -float(made[i] @ query))[:10]
    assert set(found) == {f"m{i}" for i in expected}
    for i in expected:
        assert abs(found[f"m{i}"] - float(made[i] @ query)) < 1e-5
