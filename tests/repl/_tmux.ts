/** Whether tmux runs here: the REPL's terminal tests drive a real pseudo-terminal through it. */
export function tmuxAvailable(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
