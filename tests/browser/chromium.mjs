// Shared by the browser tests: Chromium flags that work on the CI machine (run as root, no
// GPU, no network beyond localhost).
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
];
