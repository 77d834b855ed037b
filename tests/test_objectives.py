"""Each loss term against its formula written out by hand on a tiny tensor."""
import math

import torch

from deepclust.nets import Output, StudentTHead
from deepclust.objectives import (Batch, ClusterState, ConsistencyLoss, KLTargetLoss, KMeansLoss,
                                  ReconstructionLoss, target_distribution)


def test_reconstruction_is_mean_squared_error():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])
    r = torch.tensor([[[[0.5, 1.0], [0.0, 0.25]]]])
    got = ReconstructionLoss()(Output(z=torch.zeros(1, 2), recon=r), Batch(x=x, idx=torch.tensor([0])), ClusterState())
    assert math.isclose(float(got), (0.25 + 0 + 0.25 + 0) / 4, rel_tol=1e-6)


def test_student_t_matches_formula():
    head = StudentTHead(2, 2, alpha=1.0)
    head.centroids.data = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    z = torch.tensor([[1.0, 1.0]])
    # distances² to the two centres: 2 and 2 -> equal; then (1 + d²)^-1 normalised
    q = head(z)
    assert torch.allclose(q, torch.tensor([[0.5, 0.5]]))
    z = torch.tensor([[0.0, 0.0]])
    a, b = 1 / (1 + 0.0), 1 / (1 + 4.0)
    assert torch.allclose(head(z), torch.tensor([[a / (a + b), b / (a + b)]]))


def test_student_t_general_alpha():
    head = StudentTHead(2, 1, alpha=2.0)
    head.centroids.data = torch.tensor([[0.0], [1.0]])
    z = torch.tensor([[3.0]])
    a = (1 + 9 / 2.0) ** (-1.5)
    b = (1 + 4 / 2.0) ** (-1.5)
    assert torch.allclose(head(z), torch.tensor([[a / (a + b), b / (a + b)]]))


def test_target_distribution_formula():
    q = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    f = q.sum(0)  # soft frequencies
    expected = []
    for i in range(3):
        w = [q[i, j] ** 2 / f[j] for j in range(2)]
        expected.append([w[0] / (w[0] + w[1]), w[1] / (w[0] + w[1])])
    assert torch.allclose(target_distribution(q), torch.tensor(expected))


def test_kl_target_formula():
    q = torch.tensor([[0.7, 0.3], [0.4, 0.6]])
    p_all = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]])
    idx = torch.tensor([2, 0])
    state = ClusterState(p=p_all)
    got = KLTargetLoss()(Output(z=torch.zeros(2, 2), q=q), Batch(x=torch.zeros(2, 1, 1, 1), idx=idx), state)
    p = p_all[idx]
    by_hand = sum(float(p[i, j]) * math.log(float(p[i, j]) / float(q[i, j])) for i in range(2) for j in range(2)) / 2
    assert math.isclose(float(got), by_hand, rel_tol=1e-5)


def test_kmeans_loss_uses_nearest_centroid():
    z = torch.tensor([[0.0, 1.0], [4.0, 4.0]], requires_grad=True)
    c = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    got = KMeansLoss()(Output(z=z), Batch(x=torch.zeros(2, 1, 1, 1), idx=torch.tensor([0, 1])), ClusterState(centroids=c))
    assert math.isclose(float(got.detach()), (1.0 + 2.0) / 2, rel_tol=1e-6)
    got.backward()
    assert torch.allclose(z.grad, torch.tensor([[0.0, 1.0], [-1.0, -1.0]]))


def test_consistency_loss_formula():
    """CCL (Kudari et al. eq. 2): 1/(NK) Σ_i Σ_k |p(k|i) - p^t(k|i)|."""
    q = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    qt = torch.tensor([[0.5, 0.4, 0.1], [0.2, 0.1, 0.7]])
    out = Output(z=torch.zeros(2, 2), q=q, views=[Output(z=torch.zeros(2, 2), q=qt)])
    got = ConsistencyLoss()(out, Batch(x=torch.zeros(2, 1, 1, 1), idx=torch.arange(2)), ClusterState())
    by_hand = (0.2 + 0.2 + 0.0 + 0.1 + 0.0 + 0.1) / (2 * 3)
    assert math.isclose(float(got), by_hand, rel_tol=1e-6)
    # two views: the mean of the per-view losses; with inputs "both" only the first N rows are compared
    out2 = Output(z=torch.zeros(4, 2), q=torch.cat([q, qt]), views=[Output(z=q, q=qt), Output(z=q, q=q)])
    got2 = ConsistencyLoss()(out2, Batch(x=torch.zeros(4, 1, 1, 1), idx=torch.arange(4)), ClusterState())
    assert math.isclose(float(got2), by_hand / 2, rel_tol=1e-6)
