{
  description = "Puts a greeting in a banner";
  inputs.greeting.url = "git+file://$REPOS/greeting";
  outputs = { self, greeting }: { text = "*** " + greeting.text + " ***"; };
}
