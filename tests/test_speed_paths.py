"""The speed-related paths give the same maths: bf16 autocast, the encoder-with-mask-tokens
ablation, torch.compile; and `mae bench` runs end to end (no timing asserts)."""
import copy
import json

import pytest
import torch

from pretrain.loss import masked_mse, pixel_target
from tests.conftest import tiny_mae
from pretrain.optim import autocast_for, build_adamw
from pretrain.patches import gather_tokens, patchify
from tools import benchmark


tiny = tiny_mae


def batch(b=4, size=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, size, size, generator=g), torch.rand(b, (size // 8) ** 2, generator=g)


def test_bf16_autocast_steps_track_fp32():
    ref = tiny()
    low = copy.deepcopy(ref)
    opts = {"fp32": build_adamw(ref, 1e-3), "bf16": build_adamw(low, 1e-3)}
    losses = {"fp32": [], "bf16": []}
    for step in range(3):
        imgs, noise = batch(seed=step)
        for prec, model in (("fp32", ref), ("bf16", low)):
            with autocast_for(prec, "cpu"):
                loss, _, _ = model.forward_mae(imgs, noise)
            loss.backward()
            opts[prec].step()
            opts[prec].zero_grad(set_to_none=True)
            losses[prec].append(loss.item())
    assert losses["bf16"][0] != losses["fp32"][0]  # autocast really ran in bf16
    for a, b in zip(losses["fp32"], losses["bf16"]):
        assert abs(a - b) / abs(a) < 0.03, (losses["fp32"], losses["bf16"])


@pytest.mark.parametrize("norm_pix", [False, True])
@pytest.mark.parametrize("mask_tokens", [False, True])
def test_loss_is_masked_mse_of_own_full_predictions(mask_tokens, norm_pix):
    """Both encoders (without / with mask tokens, paper Table 1c and Table 2) train on the same
    loss: MSE over the removed patches of the model's own predictions, in image order."""
    model = tiny(encoder_mask_tokens=mask_tokens, norm_pix_loss=norm_pix).eval()
    imgs, noise = batch()
    with torch.no_grad():
        loss, pred, mask = model.forward_mae(imgs, noise)
    full, mask2 = model.reconstruct(imgs, noise)
    assert torch.equal(mask, mask2)
    n = full.shape[1]
    assert mask.shape == (4, n) and int(mask[0].sum()) == n - model.sampler(1, model.grid, "cpu").len_keep
    expected = masked_mse(full, pixel_target(patchify(imgs, 8), norm_pix), mask)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    spec = model.mask(imgs, noise)
    torch.testing.assert_close(pred, gather_tokens(full, spec.ids_masked), rtol=1e-5, atol=1e-6)


def test_encoder_mask_tokens_encoder_sees_every_patch():
    model = tiny(encoder_mask_tokens=True)
    imgs, noise = batch()
    spec = model.mask(imgs, noise)
    latent = model.forward_encoder(imgs, spec)
    assert latent.shape == (4, 1 + spec.mask.shape[1], 32)
    # changing a removed patch's pixels changes nothing (it is replaced by the mask token) ...
    j = int(spec.ids_masked[0, 0])
    gi, gj = divmod(j, 4)
    imgs2 = imgs.clone()
    imgs2[0, :, gi * 8:(gi + 1) * 8, gj * 8:(gj + 1) * 8] += 1.0
    torch.testing.assert_close(model.forward_encoder(imgs2, spec), latent)
    # ... but the mask token is trained
    loss, _, _ = model.forward_mae(imgs, noise)
    loss.backward()
    assert model.encoder_mask_token.grad is not None and model.encoder_mask_token.grad.abs().sum() > 0


def test_compile_matches_eager():
    """Compiled with the mask sampling in the graph (per-sample seeds -> hash -> argsort), as training runs."""
    model = tiny().eval()
    imgs, _ = batch()
    seeds = torch.tensor([3, 1, 4, 1 << 30])
    compiled = torch.compile(model)
    with torch.no_grad():
        loss, pred, mask = model.forward_mae(imgs, seeds=seeds)
        closs, cpred, cmask = compiled(imgs, seeds)
    assert torch.equal(mask, cmask)
    torch.testing.assert_close(closs, loss, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cpred, pred, rtol=1e-4, atol=1e-4)


def test_bf16_weights_with_fp32_masters_equal_autocast():
    """`mae bench pretrain --bf16-weights` (no per-weight casts) trains to autocast's exact losses."""
    from tools.benchmark.master_weights import MasterWeightStep

    ref = tiny()
    low = copy.deepcopy(ref)
    steps = {"autocast": (ref, build_adamw(ref, 1e-3)), "bf16 weights": (low, MasterWeightStep(low, build_adamw(low, 1e-3)))}
    losses = {k: [] for k in steps}
    for i in range(3):
        imgs, _ = batch(seed=i)
        for k, (model, opt) in steps.items():
            with autocast_for("bf16", "cpu"):
                loss, _, _ = model.forward_mae(imgs, seeds=torch.tensor([i, i + 1, i + 2, i + 3]))
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses[k].append(loss.item())
    assert low.decoder_pred.weight.dtype == torch.bfloat16
    assert losses["bf16 weights"] == losses["autocast"]
    torch.testing.assert_close(low.decoder_pred.weight.float(), ref.decoder_pred.weight.bfloat16().float())


def test_last_decoder_block_on_removed_rows_matches_full_block():
    """The last decoder block skips the rows the loss never reads; outputs and every gradient
    equal the full timm block's."""
    from pretrain.mae import block_for_queries

    model = tiny()
    blk = model.decoder_blocks[-1]
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 17, 32, generator=g, requires_grad=True)
    start = 5
    grad_out = torch.randn(3, 12, 32, generator=g)
    grads = {}
    for name, fn in (("full", lambda: blk(x)[:, start:]), ("rows", lambda: block_for_queries(blk, x, start))):
        x.grad = None
        blk.zero_grad(set_to_none=True)
        y = fn()
        (y * grad_out).sum().backward()
        grads[name] = (y.detach(), x.grad.clone(), {k: p.grad.clone() for k, p in blk.named_parameters()})
    torch.testing.assert_close(grads["rows"][0], grads["full"][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads["rows"][1], grads["full"][1], rtol=1e-5, atol=1e-6)
    for k in grads["full"][2]:
        torch.testing.assert_close(grads["rows"][2][k], grads["full"][2][k], rtol=1e-5, atol=1e-6, msg=k)


def test_flop_count_matches_torch_counter():
    """The analytical FLOPs used for MFU equal torch's FLOP counter on our forward pass (math SDPA
    backend, so attention shows up as countable bmm), once the work we skip is taken off: the
    count assumes the reference code (prediction head on all patches, every row of the last
    decoder block); ours runs those on the removed patches only."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from pretrain.mae import build_mae

    for mask_tokens in (False, True):
        model = build_mae("mae_vit_tiny_patch16", img_size=64, decoder_embed_dim=64, decoder_depth=2,
                          encoder_mask_tokens=mask_tokens)
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(torch.randn(2, 3, 64, 64))
        k = model.sampler(1, model.grid, "cpu").len_keep
        n, d = model.decoder_pos_embed.shape[1], 64  # n counts cls
        head_on_visible = 2 * k * d * 16 * 16 * 3
        last_block_rows = 2 * (1 + k) * (d * d + d * d + 2 * 4 * d * d) + 4 * (1 + k) * n * d
        expected = 2 * (benchmark.mae_forward_flops("mae_vit_tiny_patch16", 64, 0.75, 64, 2, mask_tokens)
                        - head_on_visible - last_block_rows)  # batch of 2
        assert counter.get_total_flops() == pytest.approx(expected, rel=1e-9)


PRETRAIN_ARGS = ["pretrain", "--model", "tiny", "--steps", "1", "--warmup", "1", "--batch", "2", "--img-size", "32",
                 "--decoder-depth", "1", "--decoder-width", "64", "--matmul-size", "128", "--device", "cpu"]


def check_side(s):
    for key in ("images_per_s", "step_s_median", "step_s_min", "step_s_max", "model_flops_per_s",
                "mfu_of_measured_matmul_peak", "loss"):
        assert isinstance(s[key], float) and s[key] > 0, key
    assert s["step_s_iqr"] >= 0 and len(s["step_s_all"]) == s["steps"]
    m = s["memory"]
    assert m["state_bytes"] > 0 and "method" in m
    if m["activation_bytes"] is not None:
        assert m["training_bytes"] == m["state_bytes"] + m["activation_bytes"]


def test_bench_pretrain_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    assert benchmark.main(PRETRAIN_ARGS + ["--json", str(out), "--profile", "--peers", "hf,official"]) == 0
    d = json.loads(out.read_text())
    assert d["config"]["peers"] == ["hf", "official"] and d["peers_unavailable"] == {}
    check_side(d["official"])
    assert d["ratios"]["official"]["images_per_s"] > 0
    assert d["config"]["arch"] == "mae_vit_tiny_patch16" and d["machine"]["torch"] == torch.__version__
    for side in ("ours", "peer") if d["peer"] else ("ours",):
        prof = d[side]["profile"]
        assert prof["total_s"] > 0 and sum(prof["share"].values()) == pytest.approx(1.0)
        assert prof["share"]["matmul"] > 0 and prof["share"]["optimizer"] > 0 and prof["share"]["attention"] > 0
    assert d["model_flops_per_step"] > 0 and d["matmul_peak"]["fp32"]["flops_per_s"] > 0
    check_side(d["ours"])
    if d["peer_unavailable"] is None:
        check_side(d["peer"])
        assert d["ratio_ours_over_peer"]["images_per_s"] > 0
    else:
        assert d["peer"] is None


def test_bench_pretrain_without_peer_library(tmp_path, monkeypatch, capsys):
    from tools.benchmark import peers

    monkeypatch.setattr(peers, "peer_available", lambda name="hf": "ModuleNotFoundError: No module named 'transformers'")
    out = tmp_path / "bench.json"
    benchmark.main(PRETRAIN_ARGS + ["--json", str(out)])
    assert "peer hf unavailable" in capsys.readouterr().out
    d = json.loads(out.read_text())
    assert d["peer"] is None and "ratio_ours_over_peer" not in d
    check_side(d["ours"])


def test_bench_table2_and_loader(tmp_path):
    out, png = tmp_path / "t2.json", tmp_path / "t2.png"
    benchmark.main(["table2", "--models", "tiny", "--decoder-depths", "1", "--batch", "1", "--img-size", "32",
                    "--steps", "1", "--warmup", "0", "--device", "cpu", "--json", str(out), "--png", str(png)])
    (row,) = json.loads(out.read_text())["rows"]
    assert row["speedup"] > 0 and row["flops_ratio"] > 1 and png.stat().st_size > 0
    # the verdict follows the rates: a 1000 s step (0.002 img/s) is slower than any loader, a 1 us step
    # (2e6 img/s) faster than any, so each run must name the other side as the bottleneck
    for step_time, bottleneck in (("1000", "model"), ("1e-6", "loader")):
        out = tmp_path / f"loader{step_time}.json"
        benchmark.main(["loader", "--images", "4", "--img-size", "32", "--step-time", step_time, "--device", "cpu",
                        "--workers", "1", "--batch", "2", "--batches", "2", "--prefetch", "1", "--json", str(out)])
        d = json.loads(out.read_text())
        assert d["loader"]["decode_crop_flip_per_worker"] > 0 and d["bottleneck"] == bottleneck
        assert d["loader"]["dataloader"]["images_per_s"] > 0 and d["loader"]["dataloader"]["images"] == 2 * 2
        assert d["keeps_up"] == (d["loader"]["dataloader"]["images_per_s"] >= d["model"]["images_per_s"])
        assert d["keeps_up"] == (bottleneck == "model")


def test_bench_rejects_fp16_on_cpu():
    with pytest.raises(ValueError, match="fp16"):
        benchmark.main(PRETRAIN_ARGS + ["--precision", "fp16", "--no-peer"])


def test_bench_precision_compares_bf16_with_fp32(demo_config, tiny_options, tmp_path):
    out_json = tmp_path / "precision.json"
    argv = ["precision", "--config", demo_config, "--steps", "6", "--work-dir", str(tmp_path / "runs"),
            "--json", str(out_json), "--png", str(tmp_path / "precision.png"),
            "--cfg-options", *[f"{k}={v}" for k, v in tiny_options.items()]]
    assert benchmark.main(argv) == 0
    out = json.loads(out_json.read_text())
    assert out["steps_per_epoch"] == 4 and out["epochs"] == 2 and out["steps"] == 8
    fp32, bf16 = out["runs"]["fp32"]["losses"], out["runs"]["bf16"]["losses"]
    assert len(fp32) == len(bf16) == 8
    assert fp32 != bf16  # the bf16 run really ran under autocast
    assert len(out["epoch_rel_diff"]) == 2 and out["max_epoch_rel_diff"] == max(out["epoch_rel_diff"])
    assert (tmp_path / "precision.png").stat().st_size > 0
    assert (tmp_path / "runs" / "bf16" / "checkpoint-final.pth").exists()


# Kernel names as CUDA profiles of MAE training steps on an H100 show them (torch 2.11, CUDA 13).
KERNELS = [
    ("nvjet_tst_192x192_64x4_2x1_v_bz_coopA_NNT", "gemm"),
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas", "gemm"),
    ("void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8>(cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8::Params)", "gemm"),
    ("void cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16, float, __nv_bfloat16, true, false, false>(cublasLt::cublasSplitKParams<float>, __nv_bfloat16 const*, __nv_bfloat16 const*, __nv_bfloat16*, float const*, float const*, __nv_bfloat16 const*, __nv_bfloat16 const*, __nv_bfloat16*, void*, long, float*, int*)", "gemm"),
    ("triton_tem_fused_mm_3", "gemm"),
    ("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_3_64x64x128_4x1x1_kernel0_0", "attention"),
    ("void pytorch_flash::flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_traits<64, 128, 128, 8, 2, 4, 2, false, false, cutlass::bfloat16_t, Flash_kernel_traits<64, 128, 128, 8, cutlass::bfloat16_t> >, false, false, false, false, false, true, false>(pytorch_flash::Flash_bwd_params)", "attention"),
    ("fmha_cutlassF_bf16_aligned_64x64_rf_sm80(PyTorchMemEffAttention::AttentionKernel<cutlass::bfloat16_t, cutlass::arch::Sm80, true, 64, 64, 64, true, true>::Params)", "attention"),
    ("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::FusedOptimizerTensorListMetadata<4>, at::native::(anonymous namespace)::FusedAdamMathFunctor<float, 4, (at::native::ADAM_MODE)1, false>, double*, double, double, double, double, double, bool, float*, float*>(at::native::(anonymous namespace)::FusedOptimizerTensorListMetadata<4>, at::native::(anonymous namespace)::FusedAdamMathFunctor<float, 4, (at::native::ADAM_MODE)1, false>, double*, double, double, double, double, double, bool, float*, float*)", "optimizer"),
    ("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16, float, false>(int, float, c10::BFloat16 const*, c10::BFloat16 const*, c10::BFloat16 const*, float*, float*, c10::BFloat16*)", "norm"),
    ("void at::native::(anonymous namespace)::GammaBetaBackwardCUDAKernelTemplate<float, float, 32u, 16u, 32u, true, false>(long, long, float const*, float const*, float const*, float const*, float*, float*)", "norm"),
    ("triton_red_fused_native_layer_norm_backward_12", "norm"),
    ("void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl_nocast<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}> >(int, at::native::gpu_kernel_impl_nocast<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}>)", "copy"),
    ("Memcpy DtoD (Device -> Device)", "copy"),
    ("Memset (Device)", "copy"),
    ("void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::func_wrapper_t<float, at::native::sum_functor<float, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, float, 4, 4> >(at::native::ReduceOp<float, at::native::func_wrapper_t<float, at::native::sum_functor<float, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, float, 4, 4>)", "elementwise"),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#6}::operator()() const::{lambda(c10::BFloat16)#1}, std::array<char*, 2ul> >(int, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#6}::operator()() const::{lambda(c10::BFloat16)#1}, std::array<char*, 2ul>)", "elementwise"),
    ("triton_poi_fused_add_gelu_mul_5", "elementwise"),
]


@pytest.mark.parametrize("name,family", KERNELS)
def test_kernel_family_from_cuda_kernel_names(name, family):
    from tools.benchmark.profile import kernel_family

    assert kernel_family(name) == family


def test_gpu_busy_time_is_the_union_of_kernel_intervals():
    from tools.benchmark.profile import _union_us

    assert _union_us([(0, 10), (5, 12), (20, 25), (21, 22)]) == 17
    assert _union_us([]) == 0
