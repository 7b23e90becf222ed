package dev.mla4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code mla4j convert | eval}: the command-line entry point (see README, "Conversion"). */
@Command(name = "mla4j", mixinStandardHelpOptions = true,
    description = "MHA2MLA conversion and evaluation of Hugging Face checkpoints.",
    subcommands = {ConvertCommand.class, EvalCommand.class})
public final class Main {

  public static void main(String[] args) {
    CommandLine cli = new CommandLine(new Main());
    // user errors (bad files, shapes, options) get their message on one line, not a stack trace
    cli.setExecutionExceptionHandler((e, line, parsed) -> {
      line.getErr().println("mla4j: " + e.getMessage());
      return 1;
    });
    System.exit(cli.execute(args));
  }
}
