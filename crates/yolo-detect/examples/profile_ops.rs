//! Where does tract spend its time? Runs a model (default: the embedded YOLOX-Nano) on a
//! constant input five ways: 1 thread as tract optimises it; 1 thread with only the pool and
//! softmax rewrites of tract-accel (tract's own convolutions); the same plus tract-accel's
//! depthwise convolution; 1 thread with every rewrite (`tract_accel::optimize`, as `Detector`
//! loads a model); and 2 threads with every rewrite. The five are interleaved run by run so machine load
//! hits all alike. Prints the median total of each and the time per operator type (1 thread,
//! every rewrite).
//!
//! ```text
//! cargo run --release -p yolo-detect --example profile_ops -- [model.onnx] [panel-threshold]
//! ```
//!
//! `panel-threshold` sets tract-linalg's threading panel threshold (its default is 64).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};
use tract_accel::Rewrites;
use tract_onnx::prelude::*;

fn state_for(model: &TypedModel, threads: usize) -> TractResult<TypedSimpleState> {
    let executor = if threads > 1 {
        multithread::Executor::multithread(threads)
    } else {
        multithread::Executor::SingleThread
    };
    let options = RunOptions {
        executor: Some(executor),
        ..Default::default()
    };
    let plan = model.clone().into_runnable_with_options(&options)?;
    TypedSimpleState::new(&plan)
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bytes = match args.next().filter(|p| !p.is_empty()) {
        Some(p) => std::fs::read(p)?,
        None => yolo_detect::YOLOX_NANO_ONNX.to_vec(),
    };
    if let Some(t) = args.next() {
        multithread::set_threading_panel_threshold(t.parse().unwrap());
    }
    let model = tract_onnx::onnx().model_for_read(&mut &bytes[..])?;
    let shape = model.input_fact(0)?.shape.as_concrete_finite()?.unwrap();
    let typed = model
        .with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape.clone()))?
        .into_typed()?;
    let model = typed.clone().into_optimized()?;
    let (fixed, report) = tract_accel::optimize(typed.clone())?;
    println!("tract-accel rewrites: {report:?}");
    let pools_and_softmax = Rewrites {
        cascaded_pools: true,
        softmaxes: true,
        ..Rewrites::NONE
    };
    let (tract_dw, _) = tract_accel::optimize_with(typed.clone(), pools_and_softmax)?;
    let with_depthwise = Rewrites {
        depthwise: true,
        ..pools_and_softmax
    };
    let (own_dw, _) = tract_accel::optimize_with(typed, with_depthwise)?;
    let mut states = [
        state_for(&model, 1)?,
        state_for(&tract_dw, 1)?,
        state_for(&own_dw, 1)?,
        state_for(&fixed, 1)?,
        state_for(&fixed, 2)?,
    ];
    let input = Tensor::zero::<f32>(&shape)?.into_arc_tensor();
    let runs = 30;
    let mut per_op: HashMap<String, (Duration, usize)> = HashMap::new();
    let mut totals = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for run in 0..runs + 3 {
        for (i, state) in states.iter_mut().enumerate() {
            let started = Instant::now();
            let mut times: Vec<(String, Duration)> = Vec::new();
            state.run_plan_with_eval(
                tvec!(input.clone().into_tvalue()),
                |ctx, st, node, inputs| {
                    let t = Instant::now();
                    let out = tract_onnx::tract_core::plan::eval(ctx, st, node, inputs);
                    times.push((node.op().name().to_string(), t.elapsed()));
                    out
                },
            )?;
            if run < 3 {
                continue;
            }
            totals[i].push(started.elapsed());
            if i == 3 {
                for (name, d) in times {
                    let e = per_op.entry(name).or_default();
                    e.0 += d;
                    e.1 += 1;
                }
            }
        }
    }
    let [plain, tract_dw, own_dw, one, two] = totals;
    println!(
        "median per run, 1 thread: as tract optimises it {:.2} ms, pools and softmax fixed \
         {:.2} ms, + own depthwise {:.2} ms, every rewrite {:.2} ms; every rewrite on 2 \
         threads {:.2} ms",
        median_ms(plain),
        median_ms(tract_dw),
        median_ms(own_dw),
        median_ms(one),
        median_ms(two)
    );
    let mut rows: Vec<_> = per_op.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
    for (name, (d, n)) in rows.iter().take(8) {
        println!(
            "{:>8.2} ms  {:>4} nodes  {name} (1 thread, mean)",
            d.as_secs_f64() * 1000.0 / runs as f64,
            n / runs
        );
    }
    Ok(())
}
