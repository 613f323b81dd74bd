// Countdowns tick every minute; the grading progress refreshes while anything is queued or
// running. The pages are complete without this script: it only keeps them current.
"use strict";
function countdownText(target, now) {
  let s = Math.round((target - now) / 1000);
  const ahead = s >= 0; s = Math.abs(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  const text = d ? `${d} day${d !== 1 ? "s" : ""} ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
  return ahead ? `in ${text}` : `${text} ago`;
}
function tick() {
  for (const el of document.querySelectorAll("time.countdown")) {
    el.textContent = countdownText(new Date(el.getAttribute("datetime")), new Date());
  }
}
async function refreshProgress(section) {
  try {
    const reply = await fetch(section.dataset.src, {credentials: "same-origin"});
    if (!reply.ok) return;
    const counts = await reply.json();
    for (const [name, count] of Object.entries(counts)) {
      const el = section.querySelector(`[data-count="${name}"]`);
      if (el) el.textContent = count;
    }
    if (counts.queued || counts.running) setTimeout(() => refreshProgress(section), 5000);
  } catch (e) { /* offline: keep what is shown */ }
}
document.addEventListener("DOMContentLoaded", () => {
  tick(); setInterval(tick, 60000);
  const progress = document.getElementById("progress");
  if (progress) setTimeout(() => refreshProgress(progress), 5000);
});
