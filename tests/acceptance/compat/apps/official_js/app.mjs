// The compatibility scenarios written with the official npm `inngest` SDK (v4), unchanged
// Inngest code served by Express. Configured only through INNGEST_* environment variables,
// as a team moving an existing app onto Outlast would do. Usage: node app.mjs PORT
import express from "express";
import { Inngest, NonRetriableError, RetryAfterError, openai } from "inngest";
import { serve } from "inngest/express";

const P = "compat/js";
const inngest = new Inngest({ id: "compat-js" });
const fn = (id, triggers, handler, opts = {}) =>
  inngest.createFunction({ id, triggers, ...opts }, handler);
const on = (name) => [{ event: `${P}.${name}` }];

const child = fn("child", on("child"), async ({ event, step }) => {
  if (event.data.fail) throw new NonRetriableError("child refused");
  return { doubled: await step.run("double", () => event.data.n * 2) };
});

// No trigger: only ever invoked.
const invokeOnly = fn("invoke-only", [], async ({ event }) => ({ got: event.data.n }));

const functions = [
  fn("steps", on("steps"), async ({ event, step }) => {
    const doubled = await step.run("double", () => event.data.n * 2);
    return { result: await step.run("add-one", () => doubled + 1) };
  }),
  fn("sleep", on("sleep"), async ({ step }) => {
    await step.sleep("nap", "1s");
    return "slept";
  }),
  fn("sleep-until", on("sleep-until"), async ({ event, step }) => {
    await step.sleepUntil("until", new Date(event.data.until));
    return "woke";
  }),
  fn("wait-match", on("wait-match"), async ({ step }) => {
    const reply = await step.waitForEvent("reply", {
      event: `${P}.reply`,
      match: "data.key",
      timeout: "30s",
    });
    return { reply: reply ? reply.data.text : null };
  }),
  fn("wait-if", on("wait-if"), async ({ step }) => {
    const reply = await step.waitForEvent("big-order", {
      event: `${P}.order`,
      if: "async.data.amount > 100 && async.data.key == event.data.key",
      timeout: "30s",
    });
    return { amount: reply ? reply.data.amount : null };
  }),
  fn("wait-timeout", on("wait-timeout"), async ({ step }) => {
    const reply = await step.waitForEvent("never", { event: `${P}.never`, timeout: "1s" });
    return { reply };
  }),
  child,
  fn("invoke", on("invoke"), async ({ step }) => {
    const ok = await step.invoke("call-child", { function: child, data: { n: 21 } });
    let failed = null;
    try {
      await step.invoke("call-failing-child", { function: child, data: { n: 1, fail: true } });
    } catch (err) {
      failed = err.message;
    }
    return { child: ok, failed };
  }),
  fn("send-event", on("send-event"), async ({ event, step }) => {
    const { ids } = await step.sendEvent("emit", {
      name: `${P}.sent`,
      data: { key: event.data.key },
    });
    return { ids };
  }),
  fn("sent-receiver", on("sent"), async ({ event }) => ({ received: event.data.key })),
  fn("parallel", on("parallel"), async ({ step }) => {
    const parts = await Promise.all(
      [1, 2, 3].map((i) => step.run(`part-${i}`, () => i * i)),
    );
    const sum = await step.run("sum", () => parts.reduce((a, b) => a + b, 0));
    return { parts, sum };
  }),
  fn(
    "retry",
    on("retry"),
    async ({ step, attempt }) =>
      step.run("flaky", () => {
        if (attempt === 0) throw new Error("transient failure");
        return `ok on attempt ${attempt}`;
      }),
    { retries: 2 },
  ),
  fn(
    "retry-after",
    on("retry-after"),
    async ({ step, attempt }) =>
      step.run("limited", () => {
        if (attempt === 0) throw new RetryAfterError("rate limited", "2s");
        return `ok on attempt ${attempt}`;
      }),
    { retries: 2 },
  ),
  fn(
    "step-error",
    on("step-error"),
    async ({ step }) => {
      try {
        await step.run("always-fails", () => {
          throw new Error("still broken");
        });
      } catch (err) {
        return `caught: ${err.message}`;
      }
      return "unreachable";
    },
    { retries: 1 },
  ),
  fn(
    "non-retriable",
    on("non-retriable"),
    async ({ step }) => {
      await step.run("charge", () => {
        throw new NonRetriableError("the card was declined");
      });
    },
    {
      onFailure: async ({ event }) => ({
        failed_run: event.data.run_id,
        message: event.data.error.message,
      }),
    },
  ),
  fn(
    "cancel",
    on("cancel"),
    async ({ step }) => {
      await step.sleep("long-nap", "60s");
      return "not cancelled";
    },
    { cancelOn: [{ event: `${P}.stop`, match: "data.key" }] },
  ),
  fn("batch", on("batch"), async ({ events }) => ({ ns: events.map((e) => e.data.n) }), {
    batchEvents: { maxSize: 3, timeout: "2s", key: "event.data.group" },
  }),
  // 4.8 MB of step outputs: after the sleep the server sends use_api and the SDK fetches
  // the run's state from the API.
  fn("large-state", on("large-state"), async ({ step }) => {
    const sizes = [];
    for (const name of ["a", "b", "c"]) {
      sizes.push((await step.run(name, () => name.repeat(1_600_000))).length);
    }
    await step.sleep("pause", "1s");
    const total = await step.run("total", () => sizes.reduce((a, b) => a + b, 0));
    return { sizes, total };
  }),
  fn("cron", [{ cron: "* * * * *" }], async ({ event }) => ({ event: event.name })),
  // Flow control: one run per key per minute; the last of a burst; one step per key at once.
  fn("rate-limit", on("rate-limit"), async ({ event }) => ({ n: event.data.n }), {
    rateLimit: { limit: 1, period: "1m", key: "event.data.key" },
  }),
  fn("debounce", on("debounce"), async ({ event }) => ({ n: event.data.n }), {
    debounce: { period: "5s", key: "event.data.key" },
  }),
  fn(
    "concurrency",
    on("concurrency"),
    async ({ step }) =>
      step.run("hold", async () => {
        const start = Date.now() / 1000;
        await new Promise((resolve) => setTimeout(resolve, 400));
        return { start, end: Date.now() / 1000 };
      }),
    { concurrency: { limit: 1, key: "event.data.key" } },
  ),
  invokeOnly,
  fn("invoke-only-caller", on("invoke-only"), async ({ step }) =>
    step.invoke("call", { function: invokeOnly, data: { n: 7 } }),
  ),
  // What the SDK reads off each call and each event: the ids Inngest sends as headers, and
  // the event's meta (sessions).
  fn("context", on("context"), async ({ event, requestId, jobId }) => ({
    requestId: typeof requestId,
    jobId: typeof jobId,
    meta: event.meta ?? null,
  })),
  // step.ai.infer: the server sends the request to the (fake) provider.
  fn("ai-infer", on("ai-infer"), async ({ event, step }) =>
    step.ai.infer("ask", {
      model: openai({
        model: "gpt-fake",
        apiKey: "sk-fake",
        baseUrl: `${process.env.FAKE_LLM_URL}/v1/`,
      }),
      body: { messages: [{ role: "user", content: event.data.q }] },
    }),
  ),
  fn("wildcard", on("wild.*"), async ({ event }) => ({ event: event.name })),
  fn("big-batch", on("big-batch"), async ({ events }) => ({
    sizes: events.map((e) => e.data.blob.length),
  }), { batchEvents: { maxSize: 8, timeout: "10s" } }),
];

const app = express();
app.use(express.json({ limit: "20mb" }));
app.use("/api/inngest", serve({ client: inngest, functions }));
// Send events with the SDK's own client (single or a batch), as application code does.
app.post("/send", async (req, res) => {
  try {
    const events = req.body.events;
    const { ids } = await inngest.send(events.length === 1 ? events[0] : events);
    res.json({ ids });
  } catch (err) {
    res.status(500).json({ error: String(err) });
  }
});
const port = Number(process.argv[2] || 3000);
app.listen(port, "127.0.0.1", () => console.log(`compat-js listening on ${port}`));
