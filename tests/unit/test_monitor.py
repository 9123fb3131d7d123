import math

import torch
import torch.nn.functional as F

from harness.config import KnnProtocol
from harness.monitor import knn_accuracies, output_std


def knn_top1(bank, bank_labels, queries, query_labels, k, temperature, num_classes, chunk=None) -> float:
    """Weighted kNN top-1 for one (k, T): knn_accuracies with one protocol."""
    protocol = KnnProtocol(name="knn", k=k, temperature=temperature)
    return knn_accuracies(bank, bank_labels, queries, query_labels, [protocol], num_classes, chunk)["knn"]


def test_output_std_collapsed_and_spread():
    d = 256
    collapsed = torch.ones(512, d) + 1e-9 * torch.randn(512, d)
    assert output_std(collapsed) < 1e-6
    spread = torch.randn(4096, d, generator=torch.Generator().manual_seed(0))
    assert abs(output_std(spread) - 1 / math.sqrt(d)) < 0.002


def test_knn_on_a_known_case():
    # Two clusters on the unit circle; queries near each cluster take its class.
    bank = F.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [-1.0, 0.1], [-1.0, -0.1]]), dim=1)
    labels = torch.tensor([0, 0, 1, 1])
    queries = F.normalize(torch.tensor([[0.9, 0.0], [-0.8, 0.3], [1.0, 0.5]]), dim=1)
    assert knn_top1(bank, labels, queries, torch.tensor([0, 1, 0]), k=2, temperature=0.1, num_classes=2) == 1.0
    assert knn_top1(bank, labels, queries, torch.tensor([1, 1, 1]), k=2, temperature=0.1, num_classes=2) == 1 / 3


def test_knn_weights_votes_by_similarity():
    # k=3: two far neighbours of class 1 against one very close neighbour of class 0. With a low
    # temperature the close one wins; with a high temperature the majority wins.
    bank = F.normalize(torch.tensor([[1.0, 0.0], [0.2, 1.0], [0.2, -1.0]]), dim=1)
    labels = torch.tensor([0, 1, 1])
    q = F.normalize(torch.tensor([[1.0, 0.05]]), dim=1)
    assert knn_top1(bank, labels, q, torch.tensor([0]), k=3, temperature=0.07, num_classes=2) == 1.0
    assert knn_top1(bank, labels, q, torch.tensor([1]), k=3, temperature=100.0, num_classes=2) == 1.0


def test_knn_chunking_does_not_change_the_result():
    g = torch.Generator().manual_seed(0)
    bank, queries = F.normalize(torch.randn(300, 8, generator=g), 1), F.normalize(torch.randn(50, 8, generator=g), 1)
    bl, ql = torch.randint(0, 5, (300,), generator=g), torch.randint(0, 5, (50,), generator=g)
    a = knn_top1(bank, bl, queries, ql, 20, 0.1, 5, chunk=7)
    b = knn_top1(bank, bl, queries, ql, 20, 0.1, 5, chunk=1024)
    assert a == b


def test_knn_accuracies_share_one_pass_across_protocols(monkeypatch):
    from harness import monitor
    from harness.config import KnnProtocol

    g = torch.Generator().manual_seed(1)
    bank, queries = F.normalize(torch.randn(500, 16, generator=g), 1), F.normalize(torch.randn(120, 16, generator=g), 1)
    bl, ql = torch.randint(0, 7, (500,), generator=g), torch.randint(0, 7, (120,), generator=g)
    protocols = [KnnProtocol(name="k200", k=200, temperature=0.1), KnnProtocol(name="k5", k=5, temperature=0.07),
                 KnnProtocol(name="all", k=10_000, temperature=1.0)]  # k beyond the bank: the whole bank
    together = monitor.knn_accuracies(bank, bl, queries, ql, protocols, 7)
    for p in protocols:
        assert together[p.name] == knn_top1(bank, bl, queries, ql, min(p.k, 500), p.temperature, 7, chunk=1000)
    # The default chunk keeps chunk x bank within the element budget; the result does not change.
    assert monitor.knn_chunk(50_000) * 50_000 <= monitor.KNN_CHUNK_ELEMENTS and monitor.knn_chunk(10**12) == 1
    monkeypatch.setattr(monitor, "KNN_CHUNK_ELEMENTS", 500 * 7)
    assert monitor.knn_chunk(500) == 7
    assert monitor.knn_accuracies(bank, bl, queries, ql, protocols, 7) == together


def test_a_non_affine_output_bn_hides_a_collapse_from_the_std_but_not_from_the_monitors_behind_it():
    # A rank-1 collapse: every sample on one line (plus a constant). Behind a BN without affine each
    # channel has unit variance over the batch again, and the std of z/||z|| reads ~1/sqrt(d).
    from harness.monitor import collapse_monitors, effective_rank

    d, g = 64, torch.Generator().manual_seed(0)
    direction, offset = torch.randn(d, generator=g), torch.randn(d, generator=g)
    pre = torch.randn(512, 1, generator=g) * direction * 1e-3 + offset  # nearly constant
    post = torch.nn.BatchNorm1d(d, affine=False)(pre)
    m = collapse_monitors(post, pre)
    assert m["output_std"] > 0.5 / math.sqrt(d)  # the paper's measure sees nothing
    assert m["output_std_pre_bn"] < 0.01 / math.sqrt(d)  # the std before the BN does
    assert effective_rank(post) < 1.1  # and the effective rank of the output itself: one direction
    spread = torch.randn(512, d, generator=g)
    assert effective_rank(spread) > 0.8 * d
    assert effective_rank(torch.nn.BatchNorm1d(d, affine=False)(spread)) > 0.8 * d


def test_the_monitors_agree_without_an_output_bn():
    from harness.monitor import collapse_monitors

    z = torch.randn(256, 32, generator=torch.Generator().manual_seed(1))
    m = collapse_monitors(z, z)
    assert m["output_std"] == m["output_std_pre_bn"] == output_std(z)
